import sys

from geodesic_stage import log, render
from geodesic_stage.errors import StageError
from geodesic_stage.serve import shells

HELP = "print the block that unsets the stage's variables; --forget also drops cached sessions and Identity Center sign-ins"
EXAMPLE = "stage logout --forget"


def run(args, context):
    if args.forget:
        _forget(context)
    shells.stop()
    # Logging out never depends on the cache: the block is printed whatever --forget managed.
    sys.stdout.write(render.render_unset())
    return 0


def _forget(context) -> None:
    from geodesic_stage import switch
    from geodesic_stage.eks import served
    from geodesic_stage.sso import token
    from geodesic_stage.store.cli_cache import JsonFileCache, ecr_cache_dir, eks_cache_dir, listing_cache, session_cache

    forgotten, failed = 0, []
    entries, sign_ins = _reached(context, failed)
    # The MFA sessions, what role credentials signed (EKS tokens, ECR passwords), and the organization's
    # accounts and roles an init kept after failing part way.
    for kept in (session_cache(), JsonFileCache(eks_cache_dir()), JsonFileCache(ecr_cache_dir()), listing_cache()):
        try:
            entries += [(kept, key) for key in kept.keys()]
        except OSError as e:
            failed.append(f"{kept.directory} ({e.strerror})")
    for store, key in entries:
        try:
            forgotten += store.delete(key)
        except OSError as e:
            failed.append(f"{store.path(key)} ({e.strerror})")
    try:
        forgotten += served.forget()  # kubectl's answers, each holding a token
    except OSError as e:
        failed.append(f"{served.directory()} ({e.strerror})")
    try:
        forgotten += switch.forget()  # the cached switches the shell replays, each holding keys
    except OSError as e:
        failed.append(f"{switch.directory()} ({e.strerror})")
    for session in sign_ins:
        try:
            forgotten += token.sign_out(session)
        except OSError as e:
            failed.append(f"the Identity Center sign-in at {session.start_url} ({e.strerror})")
    if failed:
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        log.say(f"warning: logged out, but could not drop {failed[0]}{more}; 'geodesic-stage doctor' says how to fix the cache")
    else:
        log.say(f"forgot {forgotten} cached session(s)")


def _reached(context, failed: list) -> tuple[list, dict]:
    """The role cache entries and Identity Center sign-ins of every chain the user's files reach: every
    profile's, as `aws --profile` walks it; every stage's (a stages file may fill in a role_arn); and
    the shell's own stage, whatever role or profile it was used with. ([(store, key)], sign-ins), in order."""
    from geodesic_stage import model
    from geodesic_stage.config import awsconfig, chain, sso
    from geodesic_stage.creds import cached

    entries, sign_ins, sso_sessions = {}, {}, None

    def reach(links) -> None:
        """Add the entries of the chain `links()` gives; one that cannot resolve reaches nothing."""
        nonlocal sso_sessions
        try:
            found = links()
            if found is None:
                return
            entries.update(dict.fromkeys((e.store.directory, e.key) for e in map(cached.role, found.roles)))
            if found.source.kind == model.SSO:
                if sso_sessions is None:
                    sso_sessions = awsconfig.load_sso_sessions(context.config_path)
                root = found.source.profile
                role = sso.role_of(root, context.profiles[root], sso_sessions, context.config_path)
                entry = cached.sso_role(role)
                entries[(entry.store.directory, entry.key)] = None
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
        return [], sign_ins
    for name in profiles:
        # Where a source's keys live does not matter here: only the roles after it have entries.
        reach(lambda: chain.chain_of(name, context.profiles, context.credentials, context.config_path, lambda source: True))
    for name in stages:
        reach(lambda: context.stage(name).chain)
    # Last: it resolves through the shell's AWS_PROFILE, which then stands for every stage.
    reach(held)
    from geodesic_stage.store.cli_cache import JsonFileCache

    return [(JsonFileCache(directory), key) for directory, key in entries], sign_ins
