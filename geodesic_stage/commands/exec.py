import os

from geodesic_stage import credentials, mfa, shell
from geodesic_stage.errors import ConfigError

HELP = "run one command with STAGE's credentials and exit with its exit code"
EXAMPLE = "geodesic-stage exec testing -- aws sts get-caller-identity"
# A profile name would send the command looking for a config it may not see (another HOME, a container).
PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def add_arguments(parser):
    parser.add_argument(
        "--serve", action="store_true",
        help="give the command a loopback credential endpoint that renews by itself until it ends, "
        "instead of keys that last the role's hour at most",
    )
    parser.add_argument("stage")
    parser.add_argument("argv", nargs="+", metavar="-- COMMAND", help="the command and its arguments")


def run(args, context):
    argv = args.argv[1:] if args.argv[0] == "--" else args.argv
    if not argv:
        raise ConfigError("exec needs a command after --")
    stage = context.stage(args.stage)
    session = credentials.obtain(stage, context.settings(args), mfa.choose(stage.profile, args.mfa_token))
    # Nothing the caller's shell holds for a stage (its keys, or its own endpoint) goes along beside what the command gets.
    env = {k: v for k, v in os.environ.items() if k not in shell.HANDED and k not in PROFILE_VARIABLES}
    if args.serve:
        env.update(shell.endpoint_environment(session, *_serve(stage, context, args), os.environ))
    else:
        env.update(shell.portable_environment(session, os.environ))
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
