import sys

import os

from geodesic_stage import cache, log, shell, sso
from geodesic_stage.errors import StageError

HELP = "print the block that unsets the stage's variables; --forget also drops cached sessions and Identity Center sign-ins"
EXAMPLE = "stage logout --forget"
NEEDS_MFA = False


def add_arguments(parser):
    parser.add_argument("--forget", action="store_true", help="delete cached MFA and role sessions too")


def run(args, context):
    if args.forget:
        forgotten = _forget(context)
        log.say(f"forgot {forgotten} cached session(s)")
    sys.stdout.write(shell.render_unset())
    return 0


def _forget(context) -> int:
    count = 0
    role_cache = cache.role_cache()
    sso_sessions = {}
    for stage in context.known_stages():
        try:
            profile = context.stage(stage).profile
        except StageError:
            continue
        if profile.sso:
            sso_sessions[profile.sso.session] = None
            count += role_cache.delete(sso.role_cache_key(profile.sso))
            continue
        count += role_cache.delete(cache.cli_cache_key(profile))
    for session in sso_sessions:
        count += sso.sign_out(session)
    directory = cache.session_cache_dir()
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        if name.startswith("session-") and name.endswith(".json"):
            count += cache.JsonFileCache(directory).delete(name[: -len(".json")])
    return count
