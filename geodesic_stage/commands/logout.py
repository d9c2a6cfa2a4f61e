import sys

from geodesic_stage import log, render
from geodesic_stage.errors import StageError

HELP = "print the block that unsets the stage's variables; --forget also drops cached sessions and Identity Center sign-ins"
EXAMPLE = "stage logout --forget"


def run(args, context):
    if args.forget:
        _forget(context)
    # Logging out never depends on the cache: the block is printed whatever --forget managed.
    sys.stdout.write(render.render_unset())
    return 0


def _forget(context) -> None:
    from geodesic_stage.creds.obtain import entry_of
    from geodesic_stage.sso import access
    from geodesic_stage.store.cli_cache import session_cache

    forgotten, failed = 0, []
    entries, sso_sessions = [], {}
    try:
        stages = list(context.known_stages())
    except StageError as e:
        stages, failed = [], [f"the role sessions ({e.message})"]
    for stage in stages:
        try:
            resolved = context.stage(stage)
        except StageError:
            continue
        if resolved.profile.sso:
            sso_sessions[resolved.profile.sso.session] = None
        entry = entry_of(resolved)
        if entry:
            entries.append((entry.store, entry.key))
    sessions = session_cache()
    try:
        entries += [(sessions, key) for key in sessions.keys()]
    except OSError as e:
        failed.append(f"{sessions.directory} ({e.strerror})")
    for store, key in entries:
        try:
            forgotten += store.delete(key)
        except OSError as e:
            failed.append(f"{store.path(key)} ({e.strerror})")
    for session in sso_sessions:
        try:
            forgotten += access.sign_out(session)
        except OSError as e:
            failed.append(f"the Identity Center sign-in at {session.start_url} ({e.strerror})")
    if failed:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        log.say(f"warning: logged out, but could not drop {failed[0]}{more}; 'geodesic-stage doctor' says how to fix the cache")
    else:
        log.say(f"forgot {forgotten} cached session(s)")
