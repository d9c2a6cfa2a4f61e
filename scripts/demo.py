"""Start moto's STS on 127.0.0.1, make a sandbox HOME, and hand the terminal to a bash with `stage` loaded."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
BIN = Path(sys.executable).parent

RC = """\
source /etc/bash.bashrc 2>/dev/null
PS1='\\w \\$ '
source {stage_sh}
printf '%s\\n' \\
  "geodesic-stage demo: a sandbox HOME ({home}) with the {topology} example config," \\
  "and STS served by moto on {endpoint}. Any 6-digit code is accepted." \\
  "" \\
  "  stage use testing       # asks for the MFA code, then the prompt shows the stage" \\
  "  aws sts get-caller-identity" \\
  "  stage list; stage use root; stage status; stage logout" \\
  "" \\
  "exit (or Ctrl-D) ends the demo and removes the sandbox."
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("demo: moto's STS server did not start")


def main() -> int:
    topology = sys.argv[1] if len(sys.argv) > 1 else "single"
    if topology not in ("single", "organization"):
        sys.exit("usage: scripts/demo [single|organization]")
    sandbox = Path(tempfile.mkdtemp(prefix="geodesic-stage-demo-"))
    port = free_port()
    server = start_moto(port)
    try:
        home = sandbox / "home"
        (home / ".aws").mkdir(parents=True)
        shutil.copy(DATA / f"{topology}.config", home / ".aws" / "config")
        shutil.copy(DATA / "credentials", home / ".aws" / "credentials")
        endpoint = f"http://127.0.0.1:{port}"
        rc = sandbox / "bashrc"
        stage_sh = ROOT / "rootfs" / "etc" / "profile.d" / "stage.sh"
        rc.write_text(RC.format(stage_sh=stage_sh, home=home, topology=topology, endpoint=endpoint))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STAGE", "ASSUME_ROLE", "GEODESIC_STAGE"))}
        env.update(
            HOME=str(home),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            NAMESPACE="cpco",
            AWS_ENDPOINT_URL_STS=endpoint,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return subprocess.call(["bash", "--rcfile", str(rc), "-i"], env=env, cwd=home)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(sandbox, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
