import sys

from geodesic_stage import log
from geodesic_stage.errors import ConfigError

HELP = "keep long-lived access keys in the encrypted store (~/.aws/geodesic-stage/keys.age) and rotate them"
EXAMPLE = "geodesic-stage keys import cpco      (then: geodesic-stage keys rotate cpco)"


def run(args, context):
    return {
        "add": _add,
        "import": _import,
        "list": _list,
        "remove": _remove,
        "passwd": _passwd,
        "rotate": _rotate,
    }[args.keys_command](args, context)


def _add(args, context):
    from geodesic_stage.keys import store as keystore
    from geodesic_stage.auth.passphrase import ask_hidden

    with keystore.editing(create=True) as editor:
        advice = f"keys add asks the key on the terminal and there is none; put it in ~/.aws/credentials and run 'keys import {args.profile}'"
        key_id = ask_hidden(f"AWS access key id for {args.profile}: ", advice, hidden=False).strip()
        secret = ask_hidden(f"AWS secret access key for {args.profile}: ", advice).strip()
        if not (key_id and secret and key_id.isprintable() and secret.isprintable()):
            raise ConfigError("an access key id and a secret access key are both needed; nothing changed")
        identity = _check(key_id, secret, args.profile)
        replaced = editor.keys.current(args.profile)
        editor.keys.put(args.profile, keystore.new_key(key_id, secret))
        editor.save()
    log.say(f"stored {key_id} ({identity}) for {args.profile}" + (f", replacing {replaced.access_key_id}" if replaced else ""))
    return 0


def _import(args, context):
    from geodesic_stage.config import awsconfig, edit as configedit
    from geodesic_stage.keys import store as keystore
    from geodesic_stage.config.textfile import read_text

    path = awsconfig.credentials_path()
    section = awsconfig.load_credentials(path).get(args.profile)
    if section is None:
        raise ConfigError(f"{path} has no [{args.profile}]; 'keys add {args.profile}' stores keys typed on the terminal")
    key_id, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not (key_id and secret):
        raise ConfigError(f"[{args.profile}] in {path} has no aws_access_key_id and aws_secret_access_key to import")
    if section.get("aws_session_token"):
        raise ConfigError(
            f"[{args.profile}] in {path} holds temporary keys (aws_session_token); only an IAM user's long-lived keys belong in the store"
        )
    identity = _check(key_id, secret, args.profile)
    with keystore.editing(create=True) as editor:
        editor.keys.put(args.profile, keystore.new_key(key_id, secret))
        editor.save()
    # Stored first, removed second: a failure in between leaves a copy, never no key at all.
    old = read_text(path, "an AWS credentials file")
    configedit.save(path, configedit.remove_keys(old, args.profile))
    log.say(f"moved {key_id} ({identity}) of {args.profile} from {path} into {keystore.store_path()}")
    return 0


def _check(key_id: str, secret: str, profile: str) -> str:
    from geodesic_stage.aws import iam
    from geodesic_stage.errors import AwsError

    try:
        return iam.caller_identity(iam.Signer(key_id, secret))["Arn"]
    except iam.KeyRefused as e:
        raise AwsError(f"the keys of {profile} do not work ({e.message}); nothing changed")


def _list(args, context):
    from geodesic_stage import clock
    from geodesic_stage.keys import store as keystore

    index = keystore.read_index()
    if index is None:
        log.say(f"{keystore.index_path()} is missing or damaged; rebuilding it from {keystore.store_path()}")
        index = keystore.unlock().index()
    if not index:
        log.say(f"no keys stored in {keystore.store_path()}; add some with 'geodesic-stage keys import PROFILE'")
        return 0
    now = clock.now()
    rows = [("PROFILE", "ACCESS KEY ID", "AGE", "")]
    for profile, keys in index.items():
        for number, key in enumerate(keys):
            rows.append((profile, str(key.get("aws_access_key_id")), _age(key.get("added"), now), "" if number == 0 else "(not in use)"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + ("  " + row[3] if row[3] else "") + "\n")
    return 0


def _age(added, now) -> str:
    from geodesic_stage.clock import parse_timestamp

    try:
        seconds = (now - parse_timestamp(added)).total_seconds()
    except ValueError:
        return "?"
    days = int(seconds // 86400)
    return f"{days} d" if days else f"{max(0, int(seconds // 3600))} h"


def _remove(args, context):
    from geodesic_stage.keys import store as keystore

    with keystore.editing() as editor:
        key = editor.keys.current(args.profile)
        if not editor.keys.remove(args.profile):
            raise ConfigError(f"the key store holds no keys for {args.profile!r}; 'geodesic-stage keys list' shows what it holds")
        editor.save()
    log.say(f"removed {key.access_key_id} of {args.profile} from the store; the key itself stays active in IAM")
    return 0


def _passwd(args, context):
    from geodesic_stage.keys import store as keystore
    from geodesic_stage.auth import passphrase

    with keystore.editing() as editor:
        editor.save(new_passphrase=passphrase.ask_new(keystore.store_path()))
    log.say(f"{keystore.store_path()} now opens with the new passphrase")
    return 0


def _rotate(args, context):
    from geodesic_stage.aws import iam
    from geodesic_stage.keys import store as keystore, rotation

    with keystore.editing() as editor:
        old = editor.keys.current(args.profile)
        if old is None:
            raise ConfigError(f"the key store holds no key for {args.profile!r}; add it with 'geodesic-stage keys import {args.profile}'")
        arn = _check(old.access_key_id, old.secret_access_key, args.profile)
        user = iam.user_name_of(arn)
        if not user:
            raise ConfigError(f"the key of {args.profile} belongs to {arn}, not an IAM user; only an IAM user's keys can be rotated")
        session = _mfa_session(args, context)
        signer = iam.Signer(session.access_key_id, session.secret_access_key, session.session_token) if session else \
            iam.Signer(old.access_key_id, old.secret_access_key)
        try:
            rotation.rotate(
                args.profile,
                editor,
                iam.Iam(signer, user),
                accepted=lambda new: iam.caller_identity(iam.Signer(new.access_key_id, new.secret_access_key)),
                options=rotation.Options(delete_inactive=args.delete_inactive, keep_inactive=args.keep_inactive),
                say=log.say,
                # Without an MFA session the old key signs; once deactivated it cannot delete itself.
                after_verify=None if session else lambda new: iam.Iam(iam.Signer(new.access_key_id, new.secret_access_key), user),
            )
        finally:
            current = editor.keys.current(args.profile)
            if current is None or current.access_key_id != old.access_key_id:
                _forget_mfa_sessions(args.profile, context)
    return 0


def _mfa_chains(source: str, context):
    """(chain, Profile) of each role profile whose chain buys an MFA session from `source`'s keys."""
    from geodesic_stage.config import chain
    from geodesic_stage.keys import store as keystore
    from geodesic_stage.model import Profile

    for name, section in sorted(context.profiles.items()):
        if "role_arn" not in section:
            continue
        try:
            links = chain.chain_of(name, context.profiles, context.credentials, context.config_path, keystore.holds)
        except ConfigError:
            continue
        if links.source.profile == source and links.session_serial:
            mfa_process = next((context.profiles[r.profile].get("mfa_process") for r in links.roles if context.profiles[r.profile].get("mfa_process")), None)
            yield links, Profile(name=name, role_arn=links.roles[-1].role_arn, region=section.get("region"), mfa_process=mfa_process)


def _mfa_session(args, context):
    """The MFA session of the profile's keys (cached, or bought with a code); None if no profile uses MFA."""
    from geodesic_stage.creds.obtain import mfa_session_for
    from geodesic_stage.auth import mfa

    found = next(_mfa_chains(args.profile, context), None)
    if found is None:
        log.say(f"no profile buys an MFA session from {args.profile}: IAM calls are signed with the key itself")
        return None
    links, profile = found
    return mfa_session_for(links, profile, context.settings(args), mfa.choose(profile, token=args.mfa_token))


def _forget_mfa_sessions(source: str, context) -> None:
    from geodesic_stage.creds import mfa_session

    for links, _ in _mfa_chains(source, context):
        mfa_session.entry(links).forget()
