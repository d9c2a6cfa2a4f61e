"""The per-stage DOCKER_CONFIG `stage use` exports: the user's docker config, copied, with
`credHelpers` sending the stage's ECR registries to docker-credential-geodesic-stage.

The user's own directory is never written. Its config.json is copied whole (their other
registries' auths too, into a 0600 file in 0700 directories), anew at each `stage use`, and
everything else in it (contexts, cli-plugins, buildx) is linked, so docker keeps working as it did.
A `docker login` made inside a stage lands in the copy and lasts until the next `stage use`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

from geodesic_stage import cachekeys, log
from geodesic_stage.ecr.registries import Registry
from geodesic_stage.store import files
from geodesic_stage.store.cli_cache import JsonFileCache, ecr_cache_dir

HELPER = "geodesic-stage"  # docker runs docker-credential-<this>
CONFIG = "config.json"
SOURCE = ".geodesic-stage-source"  # which directory of the user's the copy was made from


def _root() -> str:
    return os.path.join(ecr_cache_dir(), "docker")


def ours(path: str) -> bool:
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(_root())


def users_directory(environ: Mapping[str, str]) -> str:
    """The user's docker config directory: their DOCKER_CONFIG, else ~/.docker; when the shell holds
    one of ours (a stage was in use), the one that was copied into it."""
    current = environ.get("DOCKER_CONFIG")
    if current and ours(current):
        try:
            with open(os.path.join(current, SOURCE), encoding="utf-8") as f:
                return f.read().strip() or os.path.expanduser("~/.docker")
        except OSError:
            return os.path.expanduser("~/.docker")
    return os.path.expanduser(current) if current else os.path.expanduser("~/.docker")


def exports(stage: str, profile: str, registries: Sequence[Registry], environ: Mapping[str, str]) -> dict[str, str]:
    source = users_directory(environ)
    target = os.path.join(_root(), cachekeys.stage_file_key(stage, profile))
    try:
        write(source, target, registries)
    except OSError as e:
        log.say(f"warning: could not write the docker config of {stage} in {target} ({e.strerror}); DOCKER_CONFIG left as it was")
        return {}
    return {"DOCKER_CONFIG": target}


def write(source: str, target: str, registries: Sequence[Registry]) -> None:
    config = _read(os.path.join(source, CONFIG))
    helpers = dict(config.get("credHelpers") or {}) if isinstance(config.get("credHelpers"), dict) else {}
    helpers.update({registry.host: HELPER for registry in registries})
    config["credHelpers"] = helpers
    copy = JsonFileCache(target)
    if copy.get("config") != config:
        copy.put("config", config)
    marker = os.path.join(target, SOURCE)
    if _read_text(marker) != source:
        files.write_atomically(marker, source.encode("utf-8"))
    _link(source, target)


def _link(source: str, target: str) -> None:
    """Everything of the user's but config.json, as a link; links to what they no longer have go."""
    try:
        names = {n for n in os.listdir(source) if n != CONFIG}
    except OSError:
        names = set()
    for name in os.listdir(target):
        path = os.path.join(target, name)
        if os.path.islink(path) and (name not in names or os.readlink(path) != os.path.join(source, name)):
            os.unlink(path)
    for name in names:
        path = os.path.join(target, name)
        if not os.path.lexists(path):
            os.symlink(os.path.join(source, name), path)


def _read(path: str) -> dict:
    text = _read_text(path)
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        log.say(f"warning: {path} is not JSON; the stage's docker config starts from an empty one")
        return {}
    return value if isinstance(value, dict) else {}


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None
