import os
import sys

from geodesic_stage import log
from geodesic_stage.stages import TOPOLOGIES

HELP = "check the AWS config against its topology, the source keys, cache permissions and the clock; one line per finding"
EXAMPLE = "geodesic-stage doctor --offline"
STAGE_OPTIONS = False
NAMED = 10


def add_arguments(parser):
    from geodesic_stage import sso_doctor
    from geodesic_stage.cli import positive_seconds

    parser.add_argument("--namespace", help="namespace of the stage profiles (default: $NAMESPACE)")
    parser.add_argument("--role", help="role part of the profile names (default: admin)")
    parser.add_argument("--topology", choices=TOPOLOGIES, help="check against this topology instead of the stages file's or the inferred one")
    parser.add_argument("--offline", action="store_true", help="skip the checks that call STS (clock skew)")
    parser.add_argument(
        "--max-time", metavar="SECONDS", type=positive_seconds, default=sso_doctor.CHECK_SECONDS,
        help=f"check Identity Center permission sets for this long at most (default: {sso_doctor.CHECK_SECONDS})",
    )


def run(args, context):
    from geodesic_stage import doctor

    report = doctor.examine(context, os.environ, declared_topology=args.topology, offline=args.offline, max_time=args.max_time)
    for note in report.notes:
        sys.stdout.write(note + "\n")
    for hint in report.hints:
        log.say(f"hint: {hint}")
    for finding in report.findings:
        sys.stdout.write(finding.line() + "\n")
    if not report.findings:
        # Names a few stages; thousands would make one line of tens of thousands of characters.
        names = ", ".join(report.stages) if len(report.stages) <= NAMED else f"{', '.join(list(report.stages)[:NAMED])}, ..."
        sys.stdout.write(
            f"ok: {len(report.stages):,} stages ({names}) in {context.config_path}, "
            f"topology {report.topology} ({report.topology_source}); no problems found\n"
        )
    else:
        warnings = len(report.findings) - report.errors
        sys.stdout.write(f"{report.errors} error(s), {warnings} warning(s)\n")
    return 1 if report.errors else 0
