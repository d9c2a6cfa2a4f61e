import os
import sys

from geodesic_stage import cache, credentials, mfa, shell
from geodesic_stage.errors import ConfigError, MfaUnavailable

HELP = "assume STAGE's role (asking for an MFA code if needed) and print the export block"
EXAMPLE = "stage use testing      (the function evals: geodesic-stage use testing)"


def add_arguments(parser):
    parser.add_argument("stage")
    parser.add_argument("--no-prompt", action="store_true", help="use cached sessions only; exit 3 if a code is needed")
    parser.add_argument(
        "--serve", action="store_true",
        help="export a loopback credential endpoint that renews by itself instead of the keys (runs longer than the role's hour)",
    )
    parser.add_argument("--no-serve", action="store_true", help="export the keys where GEODESIC_STAGE_SERVE or the stages file says serve")


def run(args, context):
    stage = context.stage(args.stage)
    serving = _serving(args, context, stage.name)
    source = mfa.choose(stage.profile, token=args.mfa_token, interactive=not args.no_prompt)
    try:
        session = credentials.obtain(stage, context.settings(args), source)
    except MfaUnavailable:
        # A cache this user cannot use hides the sessions it holds: that, not MFA, is what to fix.
        blocked = cache.unwritable(cache.session_cache_dir())
        if blocked:
            raise ConfigError(f"cannot write the cache: {blocked}; run 'geodesic-stage doctor' for the fix")
        raise
    if serving:
        from geodesic_stage.serve import target

        served = target.of(stage.name, stage.profile.name, context.request.region, context.settings(args))
        sys.stdout.write(shell.render_endpoint_exports(session, *serving.serve(served)))
    else:
        sys.stdout.write(shell.render_exports(session))
    return 0


def _serving(args, context, stage_name: str):
    """serve.shells when this use serves, decided before any code is asked for; loaded only where
    serving is asked for, so a plain cached use stays as light as it was."""
    if not (args.serve or args.no_serve or context.stages.serve or os.environ.get("GEODESIC_STAGE_SERVE")):
        return None
    from geodesic_stage.serve import shells

    return shells if shells.wanted(args.serve, args.no_serve, context.stages, stage_name) else None
