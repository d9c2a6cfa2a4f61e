"""No Docker engine runs here, so the image build is checked piece by piece:
every file the Dockerfile copies exists, and its install step, run exactly as
the Dockerfile runs it on a copy of only those files, gives a working command."""

import re
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def copies():
    """(sources, destination) of every COPY line."""
    found = []
    for line in DOCKERFILE.splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            found.append((words[1:-1], words[-1]))
    return found


def test_the_image_is_geodesic_4_on_debian():
    assert re.search(r"^ARG GEODESIC_VERSION=4\.\d+\.\d+$", DOCKERFILE, re.M)
    assert "FROM cloudposse/geodesic:${GEODESIC_VERSION}-debian" in DOCKERFILE


def test_every_file_the_dockerfile_copies_exists():
    assert copies(), "the Dockerfile copies nothing"
    for sources, _ in copies():
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"


def test_rootfs_puts_stage_sh_between_geodesic_aws_sh_and_its_final_files():
    assert (["rootfs/"], "/") in copies()
    names = sorted(["aws.sh", "prompt.sh", "stage.sh", "Ω_finalize.sh", "Ω_overrides.sh"])
    assert names.index("stage.sh") == 2
    assert (ROOT / "rootfs/etc/profile.d/stage.sh").is_file()


def test_the_install_step_gives_a_working_command(tmp_path):
    """Stage the build context the COPY lines make, then run the RUN line's script on it."""
    context = tmp_path / "usr/src/geodesic-stage"
    for sources, destination in copies():
        if destination == "/":
            continue
        target = tmp_path / destination.lstrip("/")
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            elif destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target / path.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    assert "RUN sh /usr/src/geodesic-stage/scripts/install" in DOCKERFILE
    env = {"PATH": "/usr/bin:/bin", "GEODESIC_STAGE_PREFIX": str(tmp_path / "opt"), "GEODESIC_STAGE_BINDIR": str(tmp_path / "bin"), "HOME": str(tmp_path)}
    done = subprocess.run(["sh", str(context / "scripts/install")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("geodesic-stage ")
    command = tmp_path / "bin" / "geodesic-stage"
    help_text = subprocess.run([str(command), "--help"], capture_output=True, text=True, env=env).stdout
    assert "use" in help_text and "credential-process" in help_text
    imports = subprocess.run(
        [str(tmp_path / "opt/bin/python"), "-c", "import boto3, botocore, configobj, prompt_toolkit, pyrage"],
        capture_output=True, text=True,
    )
    assert imports.returncode == 0, imports.stderr
