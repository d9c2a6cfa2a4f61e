import os
import sys

from geodesic_stage.creds.obtain import obtain
from geodesic_stage.auth import mfa
from geodesic_stage import render
from geodesic_stage.errors import ConfigError

HELP = "print STAGE's credentials for scripts and CI (sh, json or dotenv); they need no AWS config to work"
EXAMPLE = "geodesic-stage env testing --format dotenv > .env"


def run(args, context):
    if sys.stdout.isatty() and not args.show:
        raise ConfigError(
            "not printing secret keys to a terminal; redirect or pipe the output "
            f"(geodesic-stage env {args.stage} > FILE), or add --show"
        )
    stage = context.stage(args.stage)
    session = obtain(stage, context.settings(args), mfa.choose(stage.profile, args.mfa_token))
    sys.stdout.write(render.render(render.portable_environment(session, os.environ), args.format))
    return 0
