import os
import sys

from geodesic_stage import log

HELP = "check the AWS config against its topology, the source keys, cache permissions, the clock and the EKS clusters; one line per finding"
EXAMPLE = "geodesic-stage doctor --offline"
# The ok line names this many stages at most: thousands would make one line of tens of thousands of characters.
NAMED = 10


def run(args, context):
    from geodesic_stage.doctor.examine import examine

    report = examine(context, os.environ, declared_topology=args.topology, offline=args.offline, max_time=args.max_time)
    for note in report.notes:
        sys.stdout.write(note + "\n")
    for hint in report.hints:
        log.say(f"hint: {hint}")
    for finding in report.findings:
        sys.stdout.write(finding.line() + "\n")
    if not report.findings:
        names = ", ".join(report.stages) if len(report.stages) <= NAMED else f"{', '.join(list(report.stages)[:NAMED])}, ..."
        sys.stdout.write(
            f"ok: {len(report.stages):,} stages ({names}) in {context.config_path}, "
            f"topology {report.topology} ({report.topology_source}); no problems found\n"
        )
    else:
        warnings = len(report.findings) - report.errors
        sys.stdout.write(f"{report.errors} error(s), {warnings} warning(s)\n")
    return 1 if report.errors else 0
