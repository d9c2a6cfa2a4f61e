import sys

from geodesic_stage import render
from geodesic_stage.auth import mfa
from geodesic_stage.context import used_with
from geodesic_stage.creds.obtain import obtain
from geodesic_stage.errors import ConfigError, MfaUnavailable

HELP = "assume STAGE's role (asking for an MFA code if needed) and print the export block"
EXAMPLE = "stage use testing      (the function evals: geodesic-stage use testing)"


def run(args, context):
    stage = context.stage(args.stage)
    source = mfa.choose(stage.profile, token=args.mfa_token, interactive=not args.no_prompt)
    try:
        session = obtain(stage, context.settings(args), source)
    except MfaUnavailable:
        # A cache this user cannot use hides the sessions it holds: that, not MFA, is what to fix.
        from geodesic_stage.store.cli_cache import session_cache_dir
        from geodesic_stage.store.files import unwritable

        blocked = unwritable(session_cache_dir())
        if blocked:
            raise ConfigError(f"cannot write the cache: {blocked}; run 'geodesic-stage doctor' for the fix")
        raise
    sys.stdout.write(render.render_exports(session, used_with(args)))
    return 0
