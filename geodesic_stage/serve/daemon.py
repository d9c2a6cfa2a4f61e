"""An endpoint in a process of its own, alive exactly as long as the process it serves (its owner:
a shell, or the command `exec --serve` becomes).

Started by a double fork, as daemons are: the server is no child of its owner (a command that waits
for all of its children never waits for it), sits in a session of its own (the terminal's Ctrl-C,
Ctrl-Z and hang-up never reach it), holds none of its owner's pipes or terminal, and ends when its
owner ends, however that ends: a pidfd wakes it at once (else it looks at /proc once a second).
"""

from __future__ import annotations

import os
import select
import sys
import time

from geodesic_stage import log
from geodesic_stage.errors import StageError
from geodesic_stage.lifetimes import SERVE_POLL_SECONDS, SERVE_READY_SECONDS
from geodesic_stage.record import Record


class Started(Record):
    _secret = ("token",)
    pid: int
    port: int
    token: str


class Served:
    """What a server serves, asked in the server's process. This one serves its targets for as long
    as its owner runs (exec's command); a shell's follows the shell's record (shells.py)."""

    def __init__(self, *targets):
        self._targets = {target.path: target for target in targets}

    def targets(self) -> dict | None:
        """{path: Target} served now; None once the server must end. Asked at every request and once a second."""
        return self._targets

    def announce(self, started: Started) -> None:
        """Run in the server before it reports ready."""

    def retire(self) -> None:
        """Run in the server as it ends."""


def start(owner: int, served: Served, keep_stderr: bool = False) -> Started:
    """The endpoint of `owner` (a pid), accepting requests on 127.0.0.1 when this returns."""
    import socket

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
    except OSError as e:
        listener.close()
        raise StageError(f"cannot listen on 127.0.0.1 for the credential endpoint ({e.strerror})")
    # 256 random bits, as hex: a header value every SDK sends as it is.
    started = Started(pid=0, port=listener.getsockname()[1], token=os.urandom(32).hex())
    ready_read, ready_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = os.fork()
    except OSError as e:
        child, said = -1, e.strerror
    if child == 0:
        _detach(owner, served, listener, started, ready_write, keep_stderr)
    os.close(ready_write)
    listener.close()
    if child > 0:
        os.waitpid(child, 0)
        said = _read_line(ready_read, SERVE_READY_SECONDS) or f"no word from it within {SERVE_READY_SECONDS} s"
    os.close(ready_read)
    if not said.startswith("ready "):
        raise StageError(f"the credential endpoint did not start ({said})")
    pid = int(said.split()[1])
    log.debug(f"credential endpoint on 127.0.0.1:{started.port}, process {pid}, ends with process {owner}")
    return Started(pid=pid, port=started.port, token=started.token)


def _detach(owner, served, listener, started, ready: int, keep_stderr: bool) -> None:
    """The first child: a session of its own, then the server as its child; it ends at once, so the
    server is nobody's child but init's (or the nearest subreaper's)."""
    code = 1
    try:
        os.setsid()
        if os.fork() == 0:
            _serve(owner, served, listener, started, ready, keep_stderr)
        code = 0
    finally:
        os._exit(code)


class _Stop(BaseException):
    """Raised by SIGTERM, SIGHUP or SIGINT in the server (logout signals it)."""


def _stop(signum, frame):
    raise _Stop()


def _serve(owner, served, listener, started, ready: int, keep_stderr: bool) -> None:
    try:
        import signal
        import threading

        _quiet(keep_stderr, keep={listener.fileno(), ready})
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(number, _stop)
        watch = Owner(owner)
        from geodesic_stage.serve import endpoint

        server = endpoint.Server(listener, started.token, served)
        served.announce(Started(pid=os.getpid(), port=started.port, token=started.token))
        os.write(ready, f"ready {os.getpid()}\n".encode())
        os.close(ready)
        ready = -1
        threading.Thread(target=server.serve_forever, daemon=True).start()
        while not watch.gone(SERVE_POLL_SECONDS) and served.targets() is not None:
            pass
        log.debug("credential endpoint: its owner ended or logged out; stopping")
    except _Stop:
        log.debug("credential endpoint: stopped by a signal")
    except BaseException as e:
        if ready >= 0:
            message = getattr(e, "message", None) or getattr(e, "strerror", None) or type(e).__name__
            try:
                os.write(ready, f"{message}\n".encode("utf-8", "replace"))
            except OSError:
                pass
    finally:
        try:
            listener.close()
            served.retire()
        finally:
            os._exit(0)


def _quiet(keep_stderr: bool, keep: set) -> None:
    """/dev/null for stdin and stdout (and stderr unless --debug): a `$(...)` that reads the command's
    stdout must see its end. Descriptors the owner passed down are closed (a caller may read a pipe
    to its end); the package's own are close-on-exec and stay for the objects that hold them."""
    import fcntl

    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1) if keep_stderr else (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = range(3, 256)
    for fd in open_fds:
        if fd > 2 and fd not in keep:
            try:
                if not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                    os.close(fd)
            except OSError:
                pass


def _read_line(fd: int, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 512)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip()


class Owner:
    """The process an endpoint lives for: a pidfd where the kernel has them (Linux 5.3), else its
    identity looked up again at each poll."""

    def __init__(self, pid: int):
        self.identity = identity(pid)
        try:
            self._fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._fd = None

    def gone(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds; True once the owner has ended."""
        if self._fd is not None:
            return bool(select.select([self._fd], [], [], timeout)[0])
        time.sleep(timeout)
        return not alive(self.identity)


def identity(pid: int) -> str | None:
    """The pid namespace, pid and start time of a running process: a name no later process reuses.
    None if it has ended (a zombie has). Without /proc (macOS), the pid alone."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return str(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        namespace = os.readlink("/proc/self/ns/pid")  # pid:[4026531836]
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return f"{namespace.strip('pid:[]')}-{pid}-{int(fields[19])}"


def alive(name: str | None) -> bool:
    """Whether the process `identity` named is still running."""
    try:
        return bool(name) and identity(pid_of(name)) == name
    except (ValueError, IndexError):
        return False


def pid_of(name: str) -> int:
    """The pid in an identity; ValueError or IndexError for a name that is none."""
    return int(name.split("-")[-2] if "-" in name else name)


def is_ancestor(pid: int) -> bool:
    """Whether `pid` is this process's parent, grandparent, ...: the shell `stage` runs in, not a
    pid from elsewhere whose endpoint would outlive the shell. True where there is no /proc to tell."""
    if not os.path.isdir("/proc/self"):
        return True
    current = os.getppid()
    for _ in range(64):
        if current == pid:
            return True
        if current <= 1:
            return False
        try:
            with open(f"/proc/{current}/stat", "rb") as f:
                current = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False
