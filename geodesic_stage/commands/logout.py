import sys

from geodesic_stage import cache, log, shell, sso
from geodesic_stage.errors import StageError
from geodesic_stage.serve import shells

HELP = "print the block that unsets the stage's variables; --forget also drops cached sessions and Identity Center sign-ins"
EXAMPLE = "stage logout --forget"
NEEDS_MFA = False


def add_arguments(parser):
    parser.add_argument("--forget", action="store_true", help="delete cached MFA and role sessions too")


def run(args, context):
    if args.forget:
        _forget(context)
    shells.stop()
    # Logging out never depends on the cache: the block is printed whatever --forget managed.
    sys.stdout.write(shell.render_unset())
    return 0


def _forget(context) -> None:
    forgotten, failed = 0, []
    role_cache = cache.role_cache()
    keys, sso_sessions = [], {}
    try:
        stages = list(context.known_stages())
    except StageError as e:
        stages, failed = [], [f"the role sessions ({e.message})"]
    for stage in stages:
        try:
            profile = context.stage(stage).profile
        except StageError:
            continue
        if profile.sso:
            sso_sessions[profile.sso.session] = None
            keys.append((role_cache, sso.role_cache_key(profile.sso)))
        else:
            keys.append((role_cache, cache.cli_cache_key(profile)))
    session_cache = cache.session_cache()
    try:
        keys += [(session_cache, key) for key in session_cache.keys()]
    except OSError as e:
        failed.append(f"{session_cache.directory} ({e.strerror})")
    for store, key in keys:
        try:
            forgotten += store.delete(key)
        except OSError as e:
            failed.append(f"{store.path(key)} ({e.strerror})")
    for session in sso_sessions:
        try:
            forgotten += sso.sign_out(session)
        except OSError as e:
            failed.append(f"the Identity Center sign-in at {session.start_url} ({e.strerror})")
    if failed:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        log.say(f"warning: logged out, but could not drop {failed[0]}{more}; 'geodesic-stage doctor' says how to fix the cache")
    else:
        log.say(f"forgot {forgotten} cached session(s)")
