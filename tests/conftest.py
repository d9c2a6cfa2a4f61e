"""Shared fixtures: moto's STS server on 127.0.0.1, a counting proxy in front of
it, a sandbox HOME holding the spec's example configs, the CLI and a pty bash."""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

import cliv2
from ptyshell import MFA_PROMPT, ROOT, Shell
from stsproxy import StsProxy

DATA = Path(__file__).resolve().parent / "data"
BIN = Path(sys.executable).parent
TOPOLOGIES = ("single", "organization")
# Accounts of the example configs' testing stage, and the role they assume.
TESTING_IDENTITY = {
    "single": ("323330167063", "cpco-root-admin"),
    "organization": ("126450723953", "OrganizationAccountAccessRole"),
}


# setpriv --bounding-set, unshare --net and chown to another user need root; CI runs as root (.ci/run checks).
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setpriv, unshare --net or chown); CI runs it as root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def start_moto(environ=None):
    """moto's STS server on a free port (`environ`: e.g. a fake clock); gives its URL, stops it after."""
    port = _free_port()
    log = open(os.devnull, "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
        env=environ,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="session")
def moto_url():
    with start_moto() as url:
        yield url


@pytest.fixture
def sts(moto_url):
    """The STS endpoint the product talks to: counts calls, rejects `sts.rejected_codes`."""
    proxy = StsProxy(moto_url)
    yield proxy
    proxy.close()


def clean_environ() -> dict:
    """The test runner's environment without anything AWS or stage related."""
    drop = ("AWS_", "GEODESIC_", "STAGE", "NAMESPACE", "ASSUME_ROLE", "PROMPT_", "PS1", "BASH_ENV", "ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


class FakeClock:
    """libfaketime for every process started with `apply(environ)`: `advance(seconds)` moves
    their clock while they run (the wall clock only; monotonic timeouts stay real)."""

    LIBRARY = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), None)

    def __init__(self, directory: Path):
        if self.LIBRARY is None:
            raise RuntimeError("libfaketime is not installed (apt-get install libfaketime)")
        self.path = directory / "faketime"
        self.offset = 0
        self._write()
        # bash started directly keeps the real clock (libfaketime's start-up setenv goes to bash's own
        # setenv before main); exec'd from a faked /bin/sh, it inherits a working set-up.
        self.bin = directory / "faketime-bin"
        self.bin.mkdir()
        (self.bin / "bash").write_text(f'#!/bin/sh\nexec {shutil.which("bash")} "$@"\n')
        (self.bin / "bash").chmod(0o755)

    def apply(self, environ: dict) -> dict:
        return dict(
            environ,
            PATH=f"{self.bin}{os.pathsep}{environ.get('PATH', '')}",
            LD_PRELOAD=self.LIBRARY,
            FAKETIME_TIMESTAMP_FILE=str(self.path),
            FAKETIME_NO_CACHE="1",
            FAKETIME_DONT_FAKE_MONOTONIC="1",
        )

    def advance(self, seconds: int) -> None:
        self.offset += seconds
        self._write()

    def _write(self) -> None:
        # Atomic, so a process reading the file mid-move never sees it empty.
        temp = self.path.with_suffix(".tmp")
        temp.write_text(f"+{self.offset}\n")
        os.replace(temp, self.path)


@pytest.fixture
def fake_clock(tmp_path):
    return FakeClock(tmp_path)


@pytest.fixture
def fake_sts(fake_clock):
    """A counting proxy in front of a moto of its own that reads `fake_clock`, so the credentials
    it issues expire on the same clock as the processes under test."""
    with start_moto(fake_clock.apply(os.environ)) as url:
        proxy = StsProxy(url)
        yield proxy
        proxy.close()


@pytest.fixture
def clocked_env(env, fake_clock, fake_sts):
    """The user's environment on the fake clock, talking to the moto that shares it."""
    return fake_clock.apply(dict(env, AWS_ENDPOINT_URL_STS=fake_sts.url))


@pytest.fixture(params=TOPOLOGIES)
def topology(request):
    return request.param


def make_home(path: Path, topology: str = "single") -> Path:
    aws = path / ".aws"
    aws.mkdir(parents=True, exist_ok=True)
    (aws / "config").write_text((DATA / f"{topology}.config").read_text())
    (aws / "credentials").write_text((DATA / "credentials").read_text())
    return path


@pytest.fixture
def home(tmp_path, topology):
    return make_home(tmp_path / "home", topology)


@pytest.fixture
def env(home, sts):
    """Environment of a user of this sandbox: HOME, the local STS, NAMESPACE=cpco."""
    return dict(
        clean_environ(),
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AWS_ENDPOINT_URL_STS=sts.url,
        AWS_EC2_METADATA_DISABLED="true",
        NAMESPACE="cpco",
        PYTHONDONTWRITEBYTECODE="1",
    )


def run_cli(env: dict, *args, input=None, timeout=60) -> subprocess.CompletedProcess:
    """`geodesic-stage ARGS` with no terminal (stdin a pipe or /dev/null, no controlling tty)."""
    return subprocess.run(
        [str(BIN / "geodesic-stage"), *args],
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )


def run_aws(env: dict, *args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "aws"), *args], env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )


class AwsCli:
    """An AWS CLI taken as the reference for what a config means: "v1" (PyPI, the venv's bin/aws) or
    "v2" (Debian's awscli, pointed at the loopback fakes by tests/cliv2.py)."""

    def __init__(self, version: str, data: Path):
        self.version = version
        self.binary = BIN / "aws" if version == "v1" else cliv2.require()
        self._data = data

    def environ(self, env: dict) -> dict:
        return env if self.version == "v1" else cliv2.environ(env, self._data)

    def run(self, env: dict, *args, input=None, timeout=60) -> subprocess.CompletedProcess:
        """`aws ARGS`, no terminal: stdin is `input` (where botocore's getpass reads a code) or /dev/null."""
        return subprocess.run(
            [str(self.binary), *args], env=self.environ(env), input=input, capture_output=True, text=True,
            stdin=None if input is not None else subprocess.DEVNULL, timeout=timeout, start_new_session=True,
        )


class CountedCommand:
    """A command of the same name in front of `real` that notes the words of each run and execs it;
    `env` puts it first on PATH."""

    def __init__(self, directory: Path, environ: dict, real: Path):
        shim = directory / f"{real.name}-shim"
        shim.mkdir()
        self.log = directory / f"{real.name}-runs"
        self.log.write_text("")
        (shim / real.name).write_text(f'#!/bin/sh\nprintf \'%s\\n\' "$*" >> {self.log}\nexec {real} "$@"\n')
        (shim / real.name).chmod(0o755)
        self.env = dict(environ, PATH=f"{shim}{os.pathsep}{environ['PATH']}")

    def runs(self) -> list:
        return self.log.read_text().splitlines()

    def reset(self) -> None:
        self.log.write_text("")

    def take(self) -> list:
        """The runs since the last take."""
        runs = self.runs()
        self.reset()
        return runs


@pytest.fixture(params=["v1", "v2"])
def aws_cli(request, tmp_path):
    """Each AWS CLI in turn: for the sharing that both must agree on."""
    return AwsCli(request.param, tmp_path / "aws-v2-data")


@pytest.fixture
def aws_v2(tmp_path):
    """The AWS CLI v2 alone: for what only v2 does (SSO role cache, `sso login`, export-credentials)."""
    return AwsCli("v2", tmp_path / "aws-v2-data")


def mfa_prompts(*shells) -> int:
    """How many times these shells asked for an MFA code: prompt_toolkit redraws a prompt as it is
    answered, so renderings separated only by the digits typed are one."""
    asked = re.compile(f"(?:{re.escape(MFA_PROMPT)}[\\s\\d]*)+")
    return sum(len(asked.findall("".join(s.transcript))) for s in shells)


@pytest.fixture
def shell(env):
    """A pty bash with stage.sh sourced; close()d after the test."""
    shells = []

    def start(**kwargs):
        extra = kwargs.pop("env", {})
        s = Shell(dict(env, **extra), **kwargs)
        shells.append(s)
        return s

    yield start
    for s in shells:
        s.close()


__all__ = ["AwsCli", "CountedCommand", "needs_root", "ROOT", "run_cli", "run_aws", "make_home", "clean_environ", "TESTING_IDENTITY", "FakeClock", "mfa_prompts"]
