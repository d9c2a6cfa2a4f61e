import sys

from geodesic_stage import cache, chain, log, shell, sso
from geodesic_stage.errors import StageError

HELP = "print the block that unsets the stage's variables; --forget also drops cached sessions and Identity Center sign-ins"
EXAMPLE = "stage logout --forget"
NEEDS_MFA = False


def add_arguments(parser):
    parser.add_argument("--forget", action="store_true", help="delete cached MFA and role sessions too")


def run(args, context):
    if args.forget:
        _forget(context)
    # Logging out never depends on the cache: the block is printed whatever --forget managed.
    sys.stdout.write(shell.render_unset())
    return 0


def _forget(context) -> None:
    forgotten, failed = 0, []
    role_cache = cache.role_cache()
    role_keys, sign_ins = _reached(context, failed)
    keys = [(role_cache, key) for key in role_keys]
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
    for session in sign_ins:
        try:
            forgotten += sso.sign_out(session)
        except OSError as e:
            failed.append(f"the Identity Center sign-in at {session.start_url} ({e.strerror})")
    if failed:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        log.say(f"warning: logged out, but could not drop {failed[0]}{more}; 'geodesic-stage doctor' says how to fix the cache")
    else:
        log.say(f"forgot {forgotten} cached session(s)")


def _reached(context, failed: list) -> tuple[dict, dict]:
    """The role cache keys and Identity Center sign-ins of every chain the user's files reach: every
    profile's, as `aws --profile` walks it; every stage's (a stages file may fill in a role_arn); and
    the shell's own stage, whatever role or profile it was used with. (keys, sign-ins), in order."""
    from geodesic_stage import awsconfig

    keys, sign_ins, sso_sessions = {}, {}, None

    def reach(links) -> None:
        """Add the keys of the chain `links()` gives; one that cannot resolve reaches nothing."""
        nonlocal sso_sessions
        try:
            found = links()
            if found is None:
                return
            keys.update(dict.fromkeys(cache.cli_cache_key(link) for link in found.roles))
            if found.source.kind == chain.SSO:
                if sso_sessions is None:
                    sso_sessions = awsconfig.load_sso_sessions(context.config_path)
                root = found.source.profile
                role = sso.role_of(root, context.profiles[root], sso_sessions, context.config_path)
                keys[sso.role_cache_key(role)] = None
                sign_ins[role.session] = None
        except StageError:
            pass

    def held():
        stage = context.current_stage()
        return stage.chain if stage else None

    try:
        profiles, stages = list(context.profiles), list(context.known_stages())
    except StageError as e:
        failed.append(f"the role sessions ({e.message})")
        return keys, sign_ins
    for name in profiles:
        # Where a source's keys live does not matter here: only the roles after it have entries.
        reach(lambda: chain.resolve(name, context.profiles, context.credentials, context.config_path, lambda source: True))
    for name in stages:
        reach(lambda: context.stage(name).chain)
    # Last: it resolves through the shell's AWS_PROFILE, which then stands for every stage.
    reach(held)
    return keys, sign_ins
