import os

from geodesic_stage.creds.obtain import obtain
from geodesic_stage.auth import mfa
from geodesic_stage import render
from geodesic_stage.errors import ConfigError

HELP = "run one command with STAGE's credentials and exit with its exit code"
EXAMPLE = "geodesic-stage exec testing -- aws sts get-caller-identity"
# A profile name would send the command looking for a config it may not see (another HOME, a container).
PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def run(args, context):
    argv = args.argv[1:] if args.argv[0] == "--" else args.argv
    if not argv:
        raise ConfigError("exec needs a command after --")
    stage = context.stage(args.stage)
    session = obtain(stage, context.settings(args), mfa.choose(stage.profile, args.mfa_token))
    env = {k: v for k, v in os.environ.items() if k not in render.VARIABLES and k not in PROFILE_VARIABLES}
    env.update(render.portable_environment(session, os.environ))
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise ConfigError(f"command not found: {argv[0]}")
    except PermissionError:
        raise ConfigError(f"command not executable: {argv[0]}")
