import sys

from geodesic_stage import log
from geodesic_stage.errors import ConfigError

HELP = "write every stage's profile into the AWS config for a topology, keeping all else byte for byte"
EXAMPLE = (
    "geodesic-stage init --topology single --namespace cpco --region us-west-2 --root-account-id 323330167063 \\\n"
    "           --mfa-user admin@cloudposse.co --source-profile cpco --stage prod --stage staging --stage testing"
)


def run(args, context):
    from geodesic_stage.topology import profiles as topology

    if args.topology == "sso":
        from geodesic_stage.sso import accounts as sso_init

        blocks, try_stage = sso_init.blocks(args, context)
        return _write(args, context, blocks, try_stage)
    inputs = _inputs(args, context)
    tools = _tools(inputs, context.stages)
    profiles = topology.profiles(inputs)
    blocks = {p.name: topology.render_profile(p) for p in profiles}
    written = _write(args, context, blocks, inputs.stages[-1].name)
    if tools and not args.dry_run:
        log.say(f"stage use will also point kubectl and docker at: {'; '.join(tools)}")
    return written


def _tools(inputs, stages_file) -> list:
    """Each stage's EKS cluster and ECR registries from the stages file, checked before anything is written."""
    from geodesic_stage.ecr import registries
    from geodesic_stage.eks import cluster
    from geodesic_stage.topology.profiles import ROOT_STAGE, StageInput

    found = []
    root = () if any(s.name == ROOT_STAGE for s in inputs.stages) else (StageInput(ROOT_STAGE, inputs.root_account_id),)
    for stage in root + tuple(inputs.stages):
        region = stage.region or inputs.region
        eks = cluster.of_stage(stage.name, stages_file, inputs.namespace, region)
        ecr = registries.of_stage(stage.name, stages_file, stage.account_id or inputs.root_account_id, region)
        shown = ([f"cluster {eks.name} ({eks.region})"] if eks else []) + [f"registry {r.host}" for r in ecr]
        if shown:
            found.append(f"{stage.name}: {', '.join(shown)}")
    return found


def _write(args, context, blocks, try_stage: str) -> int:
    from geodesic_stage.config import awsconfig, edit as configedit
    from geodesic_stage.config.textfile import read_text

    path = context.config_path
    awsconfig.load_profiles(path)  # a file botocore could not read is not ours to rewrite
    old = read_text(path, "an AWS config file")
    edit = configedit.apply(old, blocks, force=args.force)
    if edit.hand_changed:
        where = _some([f"{name} (line {line})" for name, line in edit.hand_changed])
        raise ConfigError(
            f"{path}: not overwriting profiles edited by hand: {where}; "
            "see the change with --dry-run --force, then pass --force to overwrite them"
        )
    if edit.text == old:
        log.say(f"{path} already holds these {len(_profiles(blocks))} profiles; nothing to change")
        return 0
    if args.dry_run:
        sys.stdout.write(_diff(path, old, edit.text))
        return 0
    configedit.save(path, edit.text)
    log.say(f"{path}: {_summary(blocks, edit)}; try: stage use {try_stage}")
    return 0


# A summary names the profiles of a group this small; a larger group is a count.
NAMED = 5


def _summary(blocks, edit) -> str:
    """How many profiles were added, changed and kept (naming a few), and what became of an [sso-session]."""
    added, changed = _profiles(edit.appended), _profiles(edit.replaced)
    kept = len(_profiles(blocks)) - len(added) - len(changed)
    counts = [f"{len(added):,} profile{'' if len(added) == 1 else 's'} added{_named(added)}",
              f"{len(changed):,} changed{_named(changed)}", f"{kept:,} kept"]
    sessions = [f"[{name}] {verb}" for names, verb in ((edit.appended, "added"), (edit.replaced, "changed"))
                for name in names if name not in _profiles(names)]
    return ", ".join(counts) + "".join(f", {s}" for s in sessions)


def _profiles(names):
    return [name for name in names if not name.startswith("sso-session ")]


def _named(names) -> str:
    return f" ({', '.join(names)})" if 0 < len(names) <= NAMED else ""


def _some(items) -> str:
    """The first few items, and how many more."""
    shown = ", ".join(items[:NAMED])
    return shown + (f" and {len(items) - NAMED:,} more" if len(items) > NAMED else "")


def _inputs(args, context):
    from geodesic_stage.config import resolve
    from geodesic_stage.topology import profiles as topology

    stages_file = context.stages
    stages = _stages(args.stage, stages_file) if args.stage else tuple(
        topology.StageInput.of(name, entry) for name, entry in stages_file.stages.items()
    )
    root_stage = next((s for s in stages if s.name == topology.ROOT_STAGE), None)
    root_account_id = args.root_account_id or stages_file.root_account_id or (root_stage and root_stage.account_id)
    mfa_serial = args.mfa_serial or stages_file.mfa_serial
    if args.mfa_user and root_account_id:
        mfa_serial = topology.mfa_serial_of(root_account_id, args.mfa_user)
    values = {
        "--topology organization|accounts|single": args.topology or stages_file.topology,
        "--namespace NAME": resolve.namespace_of(context.request, stages_file),
        "--region REGION": args.region or stages_file.region,
        "--root-account-id ID": root_account_id,
        "--mfa-serial ARN (or --mfa-user USER)": mfa_serial,
        "--source-profile NAME": args.source_profile or stages_file.source_profile,
        "--stage NAME[=ACCOUNT_ID] (once per stage)": stages,
    }
    missing = [flag for flag, value in values.items() if not value]
    if missing:
        where = f" or set them in {stages_file.path}" if stages_file.path else ""
        raise ConfigError(f"init needs more to go on; add {', '.join(missing)}{where}")
    return topology.Inputs(
        topology=values["--topology organization|accounts|single"],
        namespace=values["--namespace NAME"],
        role=resolve.role_of(context.request, stages_file),
        region=values["--region REGION"],
        root_account_id=root_account_id,
        mfa_serial=mfa_serial,
        source_profile=values["--source-profile NAME"],
        stages=stages,
    )


def _stages(flags, stages_file):
    """--stage NAME[=ACCOUNT_ID]; the stages file's entry fills what a flag leaves out."""
    from geodesic_stage.config.stages_file import StageEntry
    from geodesic_stage.topology.profiles import StageInput

    stages = {}
    for flag in flags:
        name, _, account_id = flag.partition("=")
        name, account_id = name.strip(), account_id.strip()
        if not name or any(c.isspace() or c in "[]" for c in name):
            raise ConfigError(f"--stage {flag!r}: give a stage name, e.g. --stage testing=126450723953")
        stages[name] = StageInput.of(name, stages_file.stages.get(name) or StageEntry(), account_id)
    return tuple(stages.values())


def _diff(path: str, old: str, new: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=path, tofile=f"{path} (after init)"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
