"""The first run of scripts/demo or scripts/test makes .venv through scripts/venv: one line says
what is being installed; pip's screens go to a log, named only when the install fails.
PyPI is out of reach here, so python3 is a stand-in whose venv's pip prints as much as pip does."""

import subprocess

import pytest

from conftest import ROOT

FAKE_PYTHON3 = r"""#!/bin/sh
[ "$1" = -m ] && [ "$2" = venv ] || exit 99
mkdir -p "$3/bin"
cat > "$3/bin/pip" <<'PIP'
#!/bin/sh
i=0
while [ $i -lt 200 ]; do echo "Collecting package-$i"; i=$((i + 1)); done
echo "SetuptoolsDeprecationWarning: a screenful of stars" >&2
if [ -n "${PIP_BREAKS-}" ]; then echo "ERROR: No matching distribution found for boto3" >&2; exit 1; fi
PIP
chmod +x "$3/bin/pip"
"""


@pytest.fixture
def venv_script(tmp_path):
    """Runs scripts/venv with the stand-in python3 first on PATH; gives (run, venv path, temp dir)."""
    bin_dir, temp = tmp_path / "bin", tmp_path / "tmp"
    bin_dir.mkdir()
    temp.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON3)
    (bin_dir / "python3").chmod(0o755)
    venv = tmp_path / "venv"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GEODESIC_STAGE_VENV": str(venv), "TMPDIR": str(temp)}

    def run(**extra):
        return subprocess.run(["bash", str(ROOT / "scripts/venv")], env=dict(env, **extra), capture_output=True, text=True, timeout=60)

    return run, venv, temp


def test_the_first_run_says_what_it_installs_in_one_line_and_then_nothing(venv_script):
    run, venv, temp = venv_script

    first = run()

    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{venv}\n"
    assert first.stderr.splitlines() == [
        f"scripts/venv: installing geodesic-stage, its dependencies and test tools from PyPI into {venv} (once)"
    ]
    assert list(temp.iterdir()) == [], "the log of an install that worked is not kept"
    again = run()
    assert (again.returncode, again.stdout, again.stderr) == (0, f"{venv}\n", "")


def test_a_failed_install_names_its_log_and_is_tried_again_next_time(venv_script):
    run, venv, temp = venv_script

    failed = run(PIP_BREAKS="1")

    assert failed.returncode != 0 and failed.stdout == ""
    said = failed.stderr.splitlines()
    assert len(said) == 2 and said[0].startswith("scripts/venv: installing ")
    log = next(temp.iterdir())
    assert said[1] == f"scripts/venv: the install failed; pip's output is in {log}"
    assert "ERROR: No matching distribution found for boto3" in log.read_text()
    assert not (venv / ".installed").exists()
    assert run().returncode == 0, "the next run installs again"
