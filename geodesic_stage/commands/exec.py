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
    # Nothing the caller's shell holds for a stage (its keys, or its own endpoint) goes along beside what
    # the command gets; served, neither does what would outrank the endpoint.
    dropped = render.HANDED if args.serve else render.VARIABLES + render.ENDPOINT_VARIABLES
    env = {k: v for k, v in os.environ.items() if k not in dropped and k not in PROFILE_VARIABLES}
    if args.serve:
        env.update(render.endpoint_environment(session, *_serve(stage, context, args), os.environ))
    else:
        env.update(render.portable_environment(session, os.environ))
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise ConfigError(f"command not found: {argv[0]}")
    except PermissionError:
        raise ConfigError(f"command not executable: {argv[0]}")


def _serve(stage, context, args) -> tuple:
    """(URL, token) of an endpoint that lives as long as this process, which the command is about to
    become (exec keeps the pid): signals reach the command and its exit status is the command's own."""
    from geodesic_stage import log
    from geodesic_stage.serve import daemon, target

    served = target.of(stage.name, stage.profile.name, context.request.region, context.settings(args))
    started = daemon.start(os.getpid(), daemon.Served(served), keep_stderr=log.debugging())
    return served.url(started.port), started.token
