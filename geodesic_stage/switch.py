"""A cached switch without Python: what `stage use STAGE` printed, kept for the shell to say again.

A switch to a stage whose session is cached costs a Python start (about 25 ms), more than a whole
prompt of geodesic's. So when the `stage` function runs `geodesic-stage use STAGE` (no options) and
the command answers from the cache alone, it keeps a record of the block it printed and of everything
that block came from; stage.sh's __geodesic_stage_replay evals that block for the next `stage use
STAGE`, in pure bash, while all of it holds:

- the environment: every variable the command read is set (or unset) as it was, with the same value;
- the files: every file it read (the config files, the cached credentials, a stage's kubeconfig and
  docker config sources) is no newer than the record; every file it looked for and did not find is
  still absent; the directories of the config files have not changed (a file moved in, a link moved);
- the time: the credentials last the cache's window more, as the cache would serve them, and the
  record is no older than SWITCH_RECORD_SECONDS (what no mtime tells, a file copied in with `cp -p`
  or an EKS cluster's description, is looked at again by then).

A run that is no plain cached use keeps nothing: options, --debug, a served shell, a warning printed,
a call to AWS (botocore loaded), the environment read as a whole, a relative path. `logout --forget`
drops every record. Records sit beside the cached sessions, 0600 in a 0700 directory, and hold the
same secrets; the shell replays only a regular file of its own user.
"""

from __future__ import annotations

import os
import re
import sys

from geodesic_stage import clock, log
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import CACHE_RENEW_SECONDS, SWITCH_RECORD_SECONDS
from geodesic_stage.store.cli_cache import switch_dir

# What stage.sh reads; it replays no other format.
FORMAT = "1"
# The stage word a record is kept under, and replayed for: stage.sh checks the same pattern.
STAGE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Python's own files (its library, the installed packages, ours) are no input of the block.
_OWN = tuple(os.path.join(p, "") for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.abspath(__file__))})
_SYSTEM = ("/dev/", "/proc/", "/sys/")


def directory() -> str:
    return switch_dir()


class _Watch:
    """What one run read: variables (name -> value, None when unset, first read wins), paths, and
    whatever makes the run unfit to replay."""

    def __init__(self, stage: str):
        self.stage = stage
        self.variables: dict[str, str | None] = {}
        # path -> its mtime (ns) when first read, None when absent: a file changed since is seen.
        self.paths: dict[str, int | None] = {}
        self.unfit = ""


_watch: _Watch | None = None


def watch(words: list) -> None:
    """Begin watching a run of `use STAGE` made by the `stage` function (which replays records);
    any other run is not watched, and keeps nothing. Before the config files are read."""
    global _watch
    if len(words) != 2 or words[0] != "use" or not STAGE_WORD.match(words[1]) or not os.environ.get("GEODESIC_STAGE_SHELL_PID"):
        return
    _watch = _Watch(words[1])
    environ = os.environ
    plain = type(environ)

    class Watched(plain):
        def __getitem__(self, name):
            try:
                value = plain.__getitem__(self, name)
            except KeyError:
                _note(name, None)
                raise
            _note(name, value)
            return value

        def __iter__(self):
            if _watch is not None:
                _watch.unfit = _watch.unfit or "the environment was read as a whole"
            return plain.__iter__(self)

    environ.__class__ = Watched
    sys.addaudithook(_audited)
    sys.stderr = _Counted(sys.stderr)


def _note(name, value) -> None:
    if _watch is not None and name not in _watch.variables:
        _watch.variables[name] = value


def _audited(event: str, args: tuple) -> None:
    """Files opened for reading and directories listed, from Python's audit events (sys.addaudithook)."""
    if _watch is None:
        return
    if event == "open":
        path, _, flags = args
        if path is None or isinstance(path, int) or (flags or 0) & _WRITING:
            return
    elif event in ("os.listdir", "os.scandir"):
        path = args[0]
        if path is None or isinstance(path, int):
            return
    else:
        return
    path = os.fsdecode(path)
    if path not in _watch.paths:
        _watch.paths[path] = _stamp(path)


def _stamp(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        return None


class _Counted:
    """stderr, noting that something was said: a run that warned keeps nothing (a replay would not warn)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if text and _watch is not None:
            _watch.unfit = _watch.unfit or "it said something"
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def keep(block: str, expiration) -> None:
    """After a watched run printed `block` (credentials ending at `expiration`): keep it for the
    shell, if the run was a plain cached one."""
    global _watch
    if _watch is None:
        return
    also = _looked_for()
    watched, _watch = _watch, None
    # The environment as it was read: done with watching it.
    os.environ.__class__ = type(os.environ).__mro__[1]
    if isinstance(sys.stderr, _Counted):
        sys.stderr = sys.stderr._stream
    path = os.path.join(directory(), watched.stage)
    try:
        text = _record(watched, block, expiration, also)
        if text is None:
            _drop(path)
            return
        from geodesic_stage.store import files

        files.private_directory(directory())
        files.write_atomically(path, text.encode("utf-8"))
    except (OSError, ValueError, StageError) as e:
        # A value no shell word can carry (bytes that are no UTF-8), a cache that cannot be written:
        # the switch itself is done, the next one runs the command again.
        log.debug(f"kept no record of this switch ({getattr(e, 'message', e)}); the next `stage use {watched.stage}` runs the command")
        _drop(path)


def _looked_for() -> list:
    """What the block depends on besides the files the run opened: the config files wherever they are
    looked for (one made since changes the answer), the directories that hold them (a file moved in or
    a link turned keeps its mtime), the credentials file geodesic's identity hook stamps."""
    from geodesic_stage.config.paths import config_path, credentials_path
    from geodesic_stage.config.stages_file import stages_candidates
    from geodesic_stage.render import geodesic_credentials_file

    named = [config_path(), credentials_path(), *stages_candidates(), geodesic_credentials_file() or ""]
    return [*named, *(os.path.dirname(p) for p in named if p)]


def _record(watched: _Watch, block: str, expiration, also: list) -> str | None:
    from geodesic_stage.render import quote

    names = sorted(watched.variables)
    paths = {p: stamp for p, stamp in watched.paths.items() if not p.startswith(_OWN) and not p.startswith(_SYSTEM)}
    paths.update((p, paths[p] if p in paths else _stamp(p)) for p in also if p)
    present = [p for p, stamp in paths.items() if stamp is not None]
    absent = [p for p, stamp in paths.items() if stamp is None and not os.path.lexists(p)]
    why = (watched.unfit
           or ("AWS was called" if "botocore" in sys.modules else "")
           or ("a variable read has a name no shell can hold" if not all(_NAME.match(n) for n in names) else "")
           or ("a file was named by a relative path" if not all(os.path.isabs(p) for p in paths) else "")
           or ("a file changed while it was read" if any(_stamp(p) != stamp for p, stamp in paths.items()) else "")
           or ("a link that leads nowhere was read" if len(present) + len(absent) != len(paths) else ""))
    if why:
        log.debug(f"kept no record of this switch: {why}")
        return None
    until = min(int(expiration.timestamp()) - CACHE_RENEW_SECONDS, int(clock.now().timestamp()) + SWITCH_RECORD_SECONDS)

    def array(values) -> str:
        return "(" + " ".join(quote(v) for v in values) + ")"

    values = [watched.variables[n] for n in names]
    return "".join((
        f"# `stage use {watched.stage}` as geodesic-stage printed it, and what that came from (geodesic_stage/switch.py)\n",
        f"__gs_format={FORMAT}\n",
        f"__gs_until={until}\n",
        f"__gs_names={array(names)}\n",
        f"__gs_set={array('1' if v is not None else '' for v in values)}\n",
        f"__gs_values={array(v or '' for v in values)}\n",
        f"__gs_present={array(present)}\n",
        f"__gs_absent={array(absent)}\n",
        f"__gs_block={quote(block)}\n",
        "__gs_whole=1\n",
    ))


def _drop(path: str) -> None:
    from geodesic_stage.store import files

    try:
        files.remove(path)
    except OSError:
        pass


def forget() -> int:
    """Drop every record (`logout --forget`): each holds a session's keys. How many; raises OSError."""
    from geodesic_stage.store import files

    return files.remove_all(directory())
