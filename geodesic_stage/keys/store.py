"""The encrypted store of long-lived access keys, ~/.aws/geodesic-stage/keys.age.

The file is in the age format with a passphrase (scrypt) recipient, written with
pyrage, so `age -d keys.age` recovers it on any machine. Beside it, keys.index
holds what is not secret (profile, key id, when added): `keys list`, `doctor` and
the question "is this source profile in the store?" never need the passphrase.
The encrypted file is the truth; the index is rewritten with it and rebuilt from
it when missing. Directory 0700, files 0600, written atomically under a lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from geodesic_stage import clock, log
from geodesic_stage.auth import passphrase
from geodesic_stage.errors import ConfigError, LockTimeout
from geodesic_stage.lifetimes import KEY_STORE_LOCK_SECONDS
from geodesic_stage.record import Record

FORMAT_VERSION = 1
AGE_MAGIC = b"age-encryption.org/v1\n"


def directory() -> str:
    return os.path.join(os.path.expanduser("~"), ".aws", "geodesic-stage")


def store_path() -> str:
    return os.path.join(directory(), "keys.age")


def index_path() -> str:
    return os.path.join(directory(), "keys.index")


class StoredKey(Record):
    _secret = ("secret_access_key",)
    access_key_id: str
    secret_access_key: str
    added: str  # RFC 3339 UTC


class Keys:
    """The decrypted store: per profile its keys, the first one in use (a rotation keeps the new one beside it)."""

    def __init__(self, profiles: dict[str, list[StoredKey]] | None = None):
        self.profiles: dict[str, list[StoredKey]] = profiles or {}

    def current(self, profile: str) -> StoredKey | None:
        keys = self.profiles.get(profile)
        return keys[0] if keys else None

    def others(self, profile: str) -> list[StoredKey]:
        return list(self.profiles.get(profile, [])[1:])

    def put(self, profile: str, key: StoredKey) -> None:
        """The profile's only key from now on."""
        self.profiles[profile] = [key]

    def add_beside(self, profile: str, key: StoredKey) -> None:
        self.profiles[profile] = [k for k in self.profiles.get(profile, []) if k.access_key_id != key.access_key_id] + [key]

    def promote(self, profile: str, access_key_id: str) -> None:
        keys = self.profiles[profile]
        self.profiles[profile] = sorted(keys, key=lambda k: k.access_key_id != access_key_id)

    def drop(self, profile: str, access_key_id: str) -> None:
        kept = [k for k in self.profiles.get(profile, []) if k.access_key_id != access_key_id]
        if kept:
            self.profiles[profile] = kept
        else:
            self.profiles.pop(profile, None)

    def remove(self, profile: str) -> bool:
        return self.profiles.pop(profile, None) is not None

    def to_bytes(self) -> bytes:
        profiles = {
            name: [{"aws_access_key_id": k.access_key_id, "aws_secret_access_key": k.secret_access_key, "added": k.added} for k in keys]
            for name, keys in sorted(self.profiles.items())
        }
        return json.dumps({"version": FORMAT_VERSION, "profiles": profiles}, indent=1).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Keys":
        """Raises ValueError for anything but a store of ours."""
        value = json.loads(data.decode("utf-8"))
        if not isinstance(value, dict) or value.get("version") != FORMAT_VERSION or not isinstance(value.get("profiles"), dict):
            raise ValueError("not a geodesic-stage key store")
        profiles = {}
        for name, keys in value["profiles"].items():
            if not isinstance(keys, list) or not keys:
                raise ValueError(f"profile {name!r} holds no keys")
            profiles[name] = [
                StoredKey(_text(k, "aws_access_key_id"), _text(k, "aws_secret_access_key"), _text(k, "added")) for k in keys
            ]
        return cls(profiles)

    def index(self) -> dict[str, list[dict]]:
        """What is not secret, for keys.index."""
        return {
            name: [{"aws_access_key_id": k.access_key_id, "added": k.added} for k in keys]
            for name, keys in sorted(self.profiles.items())
        }


def _text(entry, name: str) -> str:
    value = entry.get(name) if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ValueError(f"a key without a usable {name}")
    return value


def new_key(access_key_id: str, secret_access_key: str, added: str | None = None) -> StoredKey:
    return StoredKey(access_key_id, secret_access_key, added or clock.rfc3339(clock.now()))


def exists() -> bool:
    return os.path.lexists(store_path())


def may_hold(profile: str) -> bool:
    """Whether the store may hold `profile`'s keys, for resolving a chain: one stat, no read, so a
    cached use never opens the store; source_keys() answers for sure when the keys are needed."""
    return exists()


def holds(profile: str) -> bool:
    """Whether the index lists `profile` (no passphrase; a missing index: whether the store exists)."""
    index = read_index()
    return profile in index if index is not None else exists()


def read_index() -> dict[str, list[dict]] | None:
    """Profile -> [{aws_access_key_id, added}] without the passphrase; {} when there is no store,
    None when the store exists but its index cannot be trusted (missing or damaged)."""
    try:
        with open(index_path(), "rb") as f:
            value = json.loads(f.read(1 << 20))
        profiles = value["profiles"] if value.get("version") == FORMAT_VERSION else None
        if isinstance(profiles, dict) and all(isinstance(keys, list) for keys in profiles.values()):
            return profiles if exists() else {}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    return None if exists() else {}


# Decrypted once per command: the passphrase is asked at most once, and rotation writes with it again.
_unlocked: tuple[Keys, str] | None = None


def unlock() -> Keys:
    global _unlocked
    if _unlocked is None:
        path = store_path()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise ConfigError(
                f"{path} is missing but {index_path()} lists keys in it; "
                "restore keys.age from a backup, or delete keys.index and add the keys again"
            )
        except OSError as e:
            raise ConfigError(f"{path}: cannot read the key store ({e.strerror}); check its owner and mode")
        if not data.startswith(AGE_MAGIC):
            raise ConfigError(f"{path} is damaged: not an age file; restore it from a backup, or move it away and add the keys again")
        secret = passphrase.current(path)
        _unlocked = (_decrypt(path, data, secret), secret)
        _repair_index(_unlocked[0])
    return _unlocked[0]


def _decrypt(path: str, data: bytes, secret: str) -> Keys:
    import pyrage

    log.debug(f"decrypting {path} (scrypt)")
    try:
        plain = pyrage.passphrase.decrypt(data, secret)
    except pyrage.DecryptError as e:
        if str(e) == "Decryption failed":
            # age cannot tell a wrong passphrase from a damaged recipient line.
            raise ConfigError(f"wrong passphrase for {path}; nothing changed")
        raise ConfigError(f"{path} is damaged ({e}); restore it from a backup, or move it away and add the keys again")
    try:
        return Keys.from_bytes(plain)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} decrypts but is not a key store ({e}); restore it from a backup")


def source_keys(profile: str) -> StoredKey | None:
    """The key in use for `profile` if the store holds it (the passphrase asked now), else None.
    No store, or an index without the profile: None at the cost of one small read."""
    index = read_index()
    if index is not None and profile not in index:
        return None
    return unlock().current(profile)


class Editor:
    """The unlocked store of one `keys` command, held under the lock until it ends."""

    def __init__(self, keys: Keys, secret: str):
        self.keys = keys
        self._secret = secret

    def save(self, new_passphrase: str | None = None) -> None:
        global _unlocked
        if new_passphrase is not None:
            self._secret = new_passphrase
        _write(self.keys, self._secret)
        _unlocked = (self.keys, self._secret)


@contextmanager
def editing(create: bool = False) -> Iterator[Editor]:
    """The store, locked against other writers; `create`: start an empty one (a new passphrase) if there is none."""
    from geodesic_stage.store import files, lock

    folder = directory()
    try:
        files.private_directory(folder)
    except OSError as e:
        raise ConfigError(f"{folder}: cannot create the key store's directory ({e.strerror}); check the owner and mode of ~/.aws")
    with ExitStack() as held:
        try:
            held.enter_context(lock.exclusive(os.path.join(folder, "keys.lock"), KEY_STORE_LOCK_SECONDS, _say_waiting))
        except LockTimeout:
            raise ConfigError(f"another geodesic-stage has held {folder}/keys.lock for {KEY_STORE_LOCK_SECONDS} s; let it finish and try again")
        if exists():
            keys = unlock()
            yield Editor(keys, _unlocked[1])
        elif create:
            yield Editor(Keys(), passphrase.new(store_path()))
        else:
            raise ConfigError(f"there is no key store at {store_path()}; add keys with 'geodesic-stage keys import PROFILE' or 'keys add PROFILE'")


def _say_waiting() -> None:
    log.say("another geodesic-stage is changing the key store; waiting for it...")


def _write(keys: Keys, secret: str) -> None:
    import pyrage

    data = pyrage.passphrase.encrypt(keys.to_bytes(), secret)
    try:
        _replace(store_path(), data)
        _replace(index_path(), _index_bytes(keys))
    except OSError as e:
        raise ConfigError(f"{directory()}: cannot write the key store ({e.strerror}); nothing changed in it")


def _index_bytes(keys: Keys) -> bytes:
    return json.dumps({"version": FORMAT_VERSION, "profiles": keys.index()}, indent=1).encode("utf-8")


def _repair_index(keys: Keys) -> None:
    """Rewrite keys.index if it does not match what the store holds (an older copy, or none)."""
    if read_index() == keys.index():
        return
    try:
        _replace(index_path(), _index_bytes(keys))
    except OSError as e:
        log.debug(f"could not rewrite {index_path()} ({e.strerror})")


def _replace(path: str, data: bytes) -> None:
    from geodesic_stage.store.files import write_atomically

    write_atomically(path, data, prefix=".tmp-keys-")
