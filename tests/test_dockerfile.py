"""No Docker engine runs here, so the image build is checked piece by piece:
every file the Dockerfile copies exists, and its install step, run exactly as
the Dockerfile runs it on a copy of only those files, gives a working command."""

import re
import shutil
import sys
import subprocess
from pathlib import Path

from conftest import DATA, ROOT

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


def geodesic_profile_d() -> list:
    """The file names in rootfs/etc/profile.d of the geodesic release the Dockerfile builds on."""
    version = re.search(r"^ARG GEODESIC_VERSION=(\S+)$", DOCKERFILE, re.M).group(1)
    listing = DATA / f"geodesic-{version}-profile.d.txt"
    assert listing.is_file(), f"no profile.d listing for geodesic {version}: add {listing.name} from its source tree"
    return [n for n in listing.read_text(encoding="utf-8").splitlines() if n and not n.startswith("#")]


def test_rootfs_puts_stage_sh_after_geodesic_aws_and_prompt_and_before_its_final_files(tmp_path):
    """The image's /etc/profile sources /etc/profile.d/*.sh in the order bash's glob gives under
    geodesic's LC_ALL=C.UTF-8: lay out geodesic's real files with ours and ask bash."""
    assert (["rootfs/"], "/") in copies()
    profile_d = tmp_path / "profile.d"
    profile_d.mkdir()
    ours = [p.name for p in (ROOT / "rootfs/etc/profile.d").iterdir()]
    assert "stage.sh" in ours
    for name in [*geodesic_profile_d(), *ours]:
        (profile_d / name).write_text("")
    listed = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", 'for i in "$1"/*.sh; do printf "%s\\n" "${i##*/}"; done', "-", str(profile_d)],
        env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    ).stdout.splitlines()

    position = listed.index("stage.sh")
    before, after = listed[:position], listed[position + 1 :]
    assert {"aws.sh", "prompt.sh"} <= set(before)
    assert {"Ω_finalize.sh", "Ω_overrides.sh"} <= set(after)
    assert after[-2:] == ["Ω_finalize.sh", "Ω_overrides.sh"], "the Ω files close the sequence"
    # The listing is geodesic's whole directory, not the few names this test is about.
    assert {"_10-colors.sh", "stty.sh", "terraform.sh"} <= set(listed)


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
    helper = subprocess.run([str(tmp_path / "bin" / "docker-credential-geodesic-stage"), "list"], capture_output=True, text=True, env=env)
    assert (helper.returncode, helper.stdout) == (0, "{}\n"), "docker's credential helper: no stage in use, no registries"
    imports = subprocess.run(
        [str(tmp_path / "opt/bin/python"), "-c", "import boto3, botocore, configobj, prompt_toolkit, pyrage"],
        capture_output=True, text=True,
    )
    assert imports.returncode == 0, imports.stderr


def test_the_image_gets_no_second_python():
    """geodesic's Debian image has its own python3 with venv in /usr/local; Debian's is not added."""
    assert not re.search(r"apt-get[^\n]*install[^\n]*python3", DOCKERFILE)
    assert "python3-venv" not in DOCKERFILE


def test_the_install_step_uses_the_first_python3_on_path(tmp_path):
    """As in the image: the image's own python3 (here, the one running the tests) comes first on PATH,
    Debian's /usr/bin/python3 after it; the virtualenv is made from the first."""
    local = tmp_path / "usr-local-bin"
    local.mkdir()
    own = Path(sys.executable).resolve()
    (local / "python3").symlink_to(own)
    env = {
        "PATH": f"{local}:/usr/bin:/bin", "HOME": str(tmp_path),
        "GEODESIC_STAGE_PREFIX": str(tmp_path / "opt"), "GEODESIC_STAGE_BINDIR": str(tmp_path / "bin"),
    }
    done = subprocess.run(["sh", str(ROOT / "scripts/install")], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    made_with = subprocess.run(
        [str(tmp_path / "opt/bin/python"), "-c", "import sys, platform; print(sys._base_executable, platform.python_version())"],
        capture_output=True, text=True,
    ).stdout.split()
    expected = subprocess.run([str(own), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True).stdout.strip()
    assert made_with[1] == expected
    assert Path(made_with[0]).parent == local or Path(made_with[0]).resolve() == own
