"""One endpoint per shell. `stage use --serve` starts it; a later `use` adds its profile to it (each
profile at a path of its own; the shell exports the path of the one it holds now); `logout` stops
it; it ends with the shell, however the shell ends.

Its record, `~/.aws/cli/cache/geodesic-stage/serve/<shell>.json` (0600 in a 0700 directory, written
atomically, beside the credentials it guards), names the server process, its port, its token and
what it serves. <shell> is the shell's pid namespace, pid and start time (daemon.identity): a shell
finds its own endpoint again, even after `exec bash`, and never another shell's. The server reads
the record at every request, so a `use` counts from the next request on; a record that is gone
(logout) or names another process ends it.
"""

from __future__ import annotations

import os

from geodesic_stage import log
from geodesic_stage.errors import ConfigError
from geodesic_stage.serve import daemon
from geodesic_stage.serve.target import Target
from geodesic_stage.store import cli_cache

# The shell the `stage` function runs in ($BASHPID), handed to use, refresh and logout for that call only.
SHELL_VARIABLE = "GEODESIC_STAGE_SHELL_PID"
# `true` makes serving the default of `stage use` (as `serve = true` in the stages file does).
SERVE_VARIABLE = "GEODESIC_STAGE_SERVE"
_NO_SHELL = (
    "--serve keeps an endpoint for as long as your shell: use it through the stage function "
    "(stage use {stage} --serve), or serve one command: geodesic-stage exec --serve {stage} -- COMMAND"
)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def records() -> cli_cache.JsonFileCache:
    return cli_cache.JsonFileCache(os.path.join(cli_cache.session_cache_dir(), "serve"))


def wanted(serve: bool, no_serve: bool, stages, stage_name: str) -> bool:
    """Whether `use` serves: --serve or --no-serve, else GEODESIC_STAGE_SERVE, else the stages file's
    `serve`. The default applies only through the `stage` function, where a shell can hold an endpoint:
    `eval "$(geodesic-stage use testing)"` in a script still gets keys."""
    if serve and no_serve:
        raise ConfigError("--serve and --no-serve contradict each other; give one")
    if serve and the_shell() is None:
        raise ConfigError(_NO_SHELL.format(stage=stage_name))
    if serve or no_serve:
        return serve
    setting = os.environ.get(SERVE_VARIABLE, "").strip().lower()
    if setting and setting not in _TRUE + _FALSE:
        raise ConfigError(f"{SERVE_VARIABLE}={setting[:20]!r}; set it to true or false")
    default = setting in _TRUE if setting else stages.serve
    return default and bool(os.environ.get(SHELL_VARIABLE))


def the_shell() -> int | None:
    """The pid of the shell the `stage` function runs in: only an ancestor of this process, so an
    endpoint never lives for some other process."""
    value = os.environ.get(SHELL_VARIABLE, "")
    if not value.isdigit() or not daemon.is_ancestor(int(value)):
        return None
    return int(value)


def serve(target: Target, replace: bool = True) -> tuple[str, str]:
    """(URL, token) of this shell's endpoint serving `target`: its running one, else a new one.
    `replace` False keeps what the endpoint already serves at that path (refresh keeps use's settings)."""
    shell = the_shell()
    key = daemon.identity(shell) if shell else None
    if key is None:
        raise ConfigError(_NO_SHELL.format(stage=target.stage))
    record = _live(key)
    if record is None:
        _prune(key)
        started = daemon.start(shell, _ShellServed(key, target))
        return target.url(started.port), started.token
    if replace or target.path not in record["targets"]:
        record["targets"][target.path] = target.to_json()
        try:
            records().put(key, record)
        except OSError as e:
            raise ConfigError(f"cannot write {records().path(key)} ({e.strerror}); run 'geodesic-stage doctor'")
    log.debug(f"the shell's credential endpoint on port {record['port']} now also serves {target.path}")
    return target.url(record["port"]), record["token"]


def stop() -> None:
    """Ends this shell's endpoint, if it has one (logout); a failure is one warning, never a failed logout."""
    shell = the_shell()
    key = daemon.identity(shell) if shell else None
    record = records().get(key) if key else None
    if record is None:
        return
    try:
        records().delete(key)
    except OSError as e:
        log.say(f"warning: could not stop the credential endpoint ({e.strerror}); it ends with this shell")
        return
    server = record.get("server")
    # The record's process, only while it is the same process (its start time): never a pid reused since.
    if isinstance(server, str) and daemon.alive(server):
        import signal

        try:
            os.kill(daemon.pid_of(server), signal.SIGTERM)
        except OSError:
            pass  # it also ends by itself, within a second of finding its record gone


def _live(key: str) -> dict | None:
    record = records().get(key)
    if record is None:
        return None
    if _well_formed(record) and daemon.alive(record["server"]):
        return record
    _delete(key)
    return None


def _well_formed(record: dict) -> bool:
    return (
        isinstance(record.get("server"), str) and isinstance(record.get("port"), int)
        and isinstance(record.get("token"), str) and isinstance(record.get("targets"), dict)
    )


def _prune(keep: str) -> None:
    """Records of ended shells of this pid namespace whose servers were killed (SIGKILL leaves its record)."""
    namespace = keep.split("-")[0] + "-"
    try:
        keys = records().keys()
    except OSError:
        return
    for key in keys:
        if key != keep and key.startswith(namespace) and not daemon.alive(key):
            record = records().get(key)
            if record is None or not daemon.alive(record.get("server")):
                _delete(key)


def _delete(key: str) -> None:
    try:
        records().delete(key)
    except OSError:
        pass


class _ShellServed(daemon.Served):
    """What a shell's server serves: the targets its record lists, for as long as the record names it."""

    def __init__(self, key: str, first: Target):
        super().__init__(first)
        self.key = key
        self.me = None

    def announce(self, started: daemon.Started) -> None:
        self.me = daemon.identity(started.pid)
        targets = {path: target.to_json() for path, target in self._targets.items()}
        records().put(self.key, {"server": self.me, "port": started.port, "token": started.token, "targets": targets})

    def targets(self) -> dict | None:
        record = records().get(self.key)
        if record is None or record.get("server") != self.me or not isinstance(record.get("targets"), dict):
            return None
        found = {path: Target.from_json(data) for path, data in record["targets"].items()}
        return {path: target for path, target in found.items() if target is not None and target.path == path}

    def retire(self) -> None:
        record = records().get(self.key)
        if record is not None and record.get("server") == self.me:
            _delete(self.key)
