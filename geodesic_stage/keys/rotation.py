"""Rotating a stored access key as AWS describes it, the store holding a working key at every step.

ListAccessKeys (a second key already there: stop and name it) -> CreateAccessKey -> the new
key stored beside the old -> GetCallerIdentity with it until AWS accepts it -> the new key
in use, the old one dropped from the store -> the old key deactivated, then deleted.
Every failure says what IAM holds at that moment.
"""

import time
from dataclasses import dataclass
from typing import Callable

from geodesic_stage.keys import store as keystore
from geodesic_stage.errors import AwsError, ConfigError, StageError

VERIFY_SECONDS = 60
VERIFY_INTERVAL_SECONDS = 3


@dataclass(frozen=True)
class Options:
    delete_inactive: bool = False
    keep_inactive: bool = False


@dataclass(frozen=True)
class Waiting:
    """How to wait for a new key: the clock and the pause are the tests' to replace."""

    seconds: float = VERIFY_SECONDS
    interval: float = VERIFY_INTERVAL_SECONDS
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def rotate(profile, editor, iam, accepted, options=Options(), say=print, after_verify=None, waiting=Waiting()) -> str:
    """Rotate `profile`'s key in `editor` (a keystore.Editor) with `iam` (an iam.Iam for its user).
    `accepted(new_key)` raises iam.KeyRefused while STS does not know the key yet.
    `after_verify(new_key)` gives the Iam for the calls after the new key works (default: `iam`).
    Returns the new key's id."""
    keys = editor.keys
    old = keys.current(profile)
    if old is None:
        raise ConfigError(f"the key store holds no key for {profile!r}; add it with 'geodesic-stage keys import {profile}'")
    listed = {k.access_key_id: k for k in iam.list_keys()}
    if old.access_key_id not in listed:
        raise AwsError(
            f"IAM lists no key {old.access_key_id} for user {iam.user}: the key stored for {profile!r} belongs to "
            "someone else or was deleted; nothing changed"
        )
    _settle_others(profile, editor, iam, listed, old.access_key_id, options, say)

    new = iam.create_key()
    keys.add_beside(profile, keystore.new_key(new.access_key_id, new.secret_access_key, new.created or None))
    try:
        editor.save()
    except StageError as e:
        _undo(iam, new.access_key_id, f"{e.message}; the new key {new.access_key_id} could not be stored", old.access_key_id)

    say(f"created {new.access_key_id} and stored it beside {old.access_key_id}; waiting for AWS to accept it...")
    try:
        _wait_until_accepted(accepted, new, waiting)
    except AwsError as e:
        keys.drop(profile, new.access_key_id)
        try:
            editor.save()
        except StageError:
            pass  # the file keeps the new key beside the old; the next rotate drops it once IAM has none
        _undo(iam, new.access_key_id, f"AWS did not accept the new key {new.access_key_id} ({e.message})", old.access_key_id)

    keys.promote(profile, new.access_key_id)
    keys.drop(profile, old.access_key_id)
    editor.save()
    say(f"{profile} now uses {new.access_key_id}")

    cleaner = after_verify(new) if after_verify else iam
    try:
        cleaner.deactivate(old.access_key_id)
    except AwsError as e:
        raise AwsError(
            f"{profile} uses the new key {new.access_key_id}, but deactivating the old key {old.access_key_id} failed "
            f"({e.message}); it is still active in IAM: deactivate and delete it in the console or with "
            f"'aws iam delete-access-key --user-name {iam.user} --access-key-id {old.access_key_id}'"
        )
    if options.keep_inactive:
        say(f"deactivated {old.access_key_id} and kept it (--keep-inactive)")
        return new.access_key_id
    try:
        cleaner.delete(old.access_key_id)
    except AwsError as e:
        raise AwsError(
            f"{profile} uses the new key {new.access_key_id}; the old key {old.access_key_id} is deactivated but "
            f"deleting it failed ({e.message}): delete it with "
            f"'aws iam delete-access-key --user-name {iam.user} --access-key-id {old.access_key_id}'"
        )
    say(f"deactivated and deleted {old.access_key_id}")
    return new.access_key_id


def _settle_others(profile, editor, iam, listed, in_use, options, say) -> None:
    """Make room for a new key: IAM allows two per user."""
    keys = editor.keys
    for extra in keys.others(profile):
        if extra.access_key_id not in listed:
            keys.drop(profile, extra.access_key_id)
            editor.save()
            say(f"dropped {extra.access_key_id} from the store: IAM no longer has it")
    for other in (k for k in listed.values() if k.access_key_id != in_use):
        if other.status == "Inactive" and options.delete_inactive:
            iam.delete(other.access_key_id)
            keys.drop(profile, other.access_key_id)
            editor.save()
            say(f"deleted the inactive key {other.access_key_id} of {iam.user} (--delete-inactive)")
            continue
        advice = (
            "pass --delete-inactive to delete it"
            if other.status == "Inactive"
            else "if nothing uses it, deactivate it (aws iam update-access-key --status Inactive), then pass --delete-inactive"
        )
        raise ConfigError(
            f"IAM user {iam.user} already has a second access key, {other.access_key_id} ({other.status.lower()}), "
            f"and AWS allows two; {advice}; nothing changed"
        )


def _wait_until_accepted(accepted, new, waiting: Waiting) -> None:
    from geodesic_stage.aws.iam import KeyRefused

    deadline = waiting.monotonic() + waiting.seconds
    while True:
        try:
            accepted(new)
            return
        except KeyRefused:
            if waiting.monotonic() >= deadline:
                raise AwsError(f"still refused after {int(waiting.seconds)} s")
            waiting.sleep(waiting.interval)


def _undo(iam, new_id: str, what: str, old_id: str):
    """Delete the key just created; raise saying what IAM holds either way."""
    try:
        iam.delete(new_id)
    except AwsError as e:
        raise AwsError(
            f"{what}; deleting it again failed too ({e.message}): IAM holds {old_id} (active, still in use) and "
            f"{new_id} (active); delete {new_id} with 'aws iam delete-access-key --user-name {iam.user} --access-key-id {new_id}'"
        )
    raise AwsError(f"{what}; deleted it again: IAM holds only {old_id}, still in use; try again later")
