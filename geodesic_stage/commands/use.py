import sys

from geodesic_stage import cache, credentials, mfa, shell
from geodesic_stage.context import used_with
from geodesic_stage.errors import ConfigError, MfaUnavailable

HELP = "assume STAGE's role (asking for an MFA code if needed) and print the export block"
EXAMPLE = "stage use testing      (the function evals: geodesic-stage use testing)"


def add_arguments(parser):
    parser.add_argument("stage")
    parser.add_argument("--no-prompt", action="store_true", help="use cached sessions only; exit 3 if a code is needed")


def run(args, context):
    stage = context.stage(args.stage)
    source = mfa.choose(stage.profile, token=args.mfa_token, interactive=not args.no_prompt)
    try:
        session = credentials.obtain(stage, context.settings(args), source)
    except MfaUnavailable:
        # A cache this user cannot use hides the sessions it holds: that, not MFA, is what to fix.
        blocked = cache.unwritable(cache.session_cache_dir())
        if blocked:
            raise ConfigError(f"cannot write the cache: {blocked}; run 'geodesic-stage doctor' for the fix")
        raise
    sys.stdout.write(shell.render_exports(session, used_with(args)))
    return 0
