"""A file lock, so that two shells needing the same thing (an MFA code, a sign-in, a refresh,
the key store) do it once.

flock(2) is released by the kernel when its holder dies, so a killed shell
never leaves the other one stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from contextlib import contextmanager

from geodesic_stage.errors import LockTimeout
from geodesic_stage.lifetimes import LOCK_POLL_SECONDS


@contextmanager
def exclusive(path: str, timeout: float, on_wait: Callable[[], None], timeout_message: str = ""):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    on_wait()
                    waited = True
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        timeout_message
                        or f"another shell has been asking for an MFA code for {int(timeout)} s; "
                        "answer it there, or press Ctrl-C and try again"
                    )
                time.sleep(LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)
