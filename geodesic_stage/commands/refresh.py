import sys

from geodesic_stage import credentials, mfa, shell
from geodesic_stage.errors import ConfigError

HELP = "renew the current stage's credentials from the cached MFA session; never asks for a code"
EXAMPLE = "stage refresh"
NEEDS_MFA = False


def add_arguments(parser):
    pass


def run(args, context):
    stage = context.current_stage()
    if stage is None:
        raise ConfigError("no stage in use in this shell (STAGE and its keys are not set); run 'stage use STAGE'")
    advice = f"the MFA session has expired: run 'stage use {stage.name}'"
    session = credentials.obtain(stage, context.settings(args), mfa.never(stage.profile, advice))
    sys.stdout.write(shell.render_exports(session))
    return 0
