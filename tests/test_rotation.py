"""Rotation's every step against fakes of IAM and STS: the store always holds a key that works,
and each failure says what IAM holds (issue 14). The real round trip is in test_keystore.py."""

import pytest

from geodesic_stage.keys import store as keystore, rotation
from geodesic_stage.errors import AwsError, ConfigError
from geodesic_stage.aws.iam import AccessKey, KeyRefused, NewKey


class FakeIam:
    """One IAM user's keys; `fail` names operations that raise AwsError."""

    def __init__(self, *keys, fail=()):
        self.user = "alice"
        self.keys = {k: "Active" for k in keys}
        self.fail = set(fail)
        self.calls = []
        self.created = 0

    def _op(self, name, *args):
        self.calls.append((name, *args))
        if name in self.fail:
            raise AwsError(f"IAM {name} was refused: AccessDenied")

    def list_keys(self):
        self._op("list")
        return [AccessKey(k, s, "2026-01-01T00:00:00Z") for k, s in self.keys.items()]

    def create_key(self):
        self._op("create")
        self.created += 1
        key = NewKey(f"AKIANEW{self.created}", f"new-secret-{self.created}", "2026-11-30T00:00:00Z")
        self.keys[key.access_key_id] = "Active"
        return key

    def deactivate(self, key_id):
        self._op("deactivate", key_id)
        self.keys[key_id] = "Inactive"

    def delete(self, key_id):
        self._op("delete", key_id)
        del self.keys[key_id]


class FakeEditor:
    """A keystore.Editor that records every saved state instead of encrypting it."""

    def __init__(self, keys):
        self.keys = keys
        self.saved = []

    def save(self, new_passphrase=None):
        self.saved.append({p: [k.access_key_id for k in ks] for p, ks in self.keys.profiles.items()})


def start(*extra_iam_keys, fail=()):
    keys = keystore.Keys({"cpco": [keystore.new_key("AKIAOLD", "old-secret")]})
    return FakeEditor(keys), FakeIam("AKIAOLD", *extra_iam_keys, fail=fail)


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds


def waiting(clock):
    return rotation.Waiting(seconds=60, interval=3, sleep=clock.sleep, monotonic=lambda: clock.now)


def test_rotation_stores_the_new_key_beside_the_old_before_testing_it_then_retires_the_old():
    editor, iam = start()
    new = rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert new == "AKIANEW1"
    assert editor.saved == [{"cpco": ["AKIAOLD", "AKIANEW1"]}, {"cpco": ["AKIANEW1"]}]
    assert [c[0] for c in iam.calls] == ["list", "create", "deactivate", "delete"]
    assert iam.keys == {"AKIANEW1": "Active"}


def test_a_new_key_is_retried_until_sts_accepts_it_within_a_minute():
    editor, iam = start()
    clock, tries = Clock(), []

    def accepted(key):
        tries.append(clock.now)
        if len(tries) < 4:
            raise KeyRefused("InvalidClientTokenId")

    rotation.rotate("cpco", editor, iam, accepted=accepted, say=lambda m: None, waiting=waiting(clock))
    assert tries == [0, 3, 6, 9]
    assert editor.keys.current("cpco").access_key_id == "AKIANEW1"


def test_a_new_key_never_accepted_is_deleted_again_and_the_old_key_stays_in_use():
    editor, iam = start()
    clock = Clock()

    def refused(key):
        raise KeyRefused("InvalidClientTokenId")

    with pytest.raises(AwsError) as e:
        rotation.rotate("cpco", editor, iam, accepted=refused, say=lambda m: None, waiting=waiting(clock))
    assert 57 <= clock.now <= 63
    assert "deleted it again: IAM holds only AKIAOLD, still in use" in e.value.message
    assert iam.keys == {"AKIAOLD": "Active"}
    assert editor.saved[-1] == {"cpco": ["AKIAOLD"]}


def test_a_new_key_that_cannot_be_deleted_again_is_named_with_both_keys_active():
    editor, iam = start(fail={"delete"})
    with pytest.raises(AwsError) as e:
        rotation.rotate("cpco", editor, iam, accepted=lambda key: (_ for _ in ()).throw(AwsError("no network")),
                        say=lambda m: None)
    assert "IAM holds AKIAOLD (active, still in use) and AKIANEW1 (active)" in e.value.message
    assert editor.keys.current("cpco").access_key_id == "AKIAOLD"


def test_a_failed_deactivation_leaves_the_new_key_in_use_and_says_the_old_is_still_active():
    editor, iam = start(fail={"deactivate"})
    with pytest.raises(AwsError) as e:
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert "uses the new key AKIANEW1" in e.value.message and "AKIAOLD failed" in e.value.message
    assert "still active in IAM" in e.value.message
    assert editor.keys.current("cpco").access_key_id == "AKIANEW1"
    assert iam.keys == {"AKIAOLD": "Active", "AKIANEW1": "Active"}


def test_a_failed_deletion_says_the_old_key_is_inactive():
    editor, iam = start(fail={"delete"})
    with pytest.raises(AwsError) as e:
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert "AKIAOLD is deactivated but deleting it failed" in e.value.message
    assert iam.keys == {"AKIAOLD": "Inactive", "AKIANEW1": "Active"}


def test_create_refused_changes_nothing():
    editor, iam = start(fail={"create"})
    with pytest.raises(AwsError):
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert editor.saved == [] and iam.keys == {"AKIAOLD": "Active"}


def test_keep_inactive_deactivates_without_deleting():
    editor, iam = start()
    rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None,
                    options=rotation.Options(keep_inactive=True))
    assert iam.keys == {"AKIAOLD": "Inactive", "AKIANEW1": "Active"}
    assert editor.keys.profiles["cpco"] == [editor.keys.current("cpco")]


def test_a_second_key_stops_rotation_unless_inactive_and_delete_inactive():
    editor, iam = start("AKIASECOND")
    with pytest.raises(ConfigError) as e:
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert "AKIASECOND (active)" in e.value.message and iam.created == 0
    iam.keys["AKIASECOND"] = "Inactive"
    with pytest.raises(ConfigError):
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None,
                    options=rotation.Options(delete_inactive=True))
    assert iam.keys == {"AKIANEW1": "Active"}


def test_a_key_left_in_the_store_by_an_unfinished_rotation_is_dropped_once_iam_has_none():
    editor, iam = start()
    editor.keys.add_beside("cpco", keystore.new_key("AKIAGONE", "gone-secret"))
    rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert editor.saved[0] == {"cpco": ["AKIAOLD"]}
    assert [k.access_key_id for k in editor.keys.profiles["cpco"]] == ["AKIANEW1"]


def test_a_stored_key_iam_does_not_list_is_refused_before_anything_changes():
    editor, iam = start()
    iam.keys = {"AKIAOTHER": "Active"}
    with pytest.raises(AwsError) as e:
        rotation.rotate("cpco", editor, iam, accepted=lambda key: None, say=lambda m: None)
    assert "IAM lists no key AKIAOLD" in e.value.message and iam.created == 0
