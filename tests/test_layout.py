"""The package's layout keeps its promises (docs/architecture.md): imports run one way, from the
layers above to the layers below; no two modules import each other; every package imports on its
own, with an empty __init__.py; and a wheel holds every package, so `python -m geodesic_stage`
works from a real install, not only from this work tree."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "geodesic_stage"

# Lowest first: a module may import only from its own layer or the ones before it.
LAYERS = [
    {"errors", "record", "log", "clock", "lifetimes", "progress"},
    {"model", "cachekeys"},
    {"store"},
    {"auth", "render"},
    {"config"},
    {"aws", "topology", "options"},
    {"sso", "keys"},
    {"creds"},
    {"eks", "ecr", "switch"},
    {"doctor", "context", "completion"},
    {"serve"},
    {"cli", "commands", "__main__", "docker_credential"},
]


def room(module: str) -> str:
    """The layer name of geodesic_stage.X.Y: its package, or the top-level module."""
    return module.split(".")[1] if module.count(".") else "__init__"


def layer(module: str) -> int:
    name = room(module)
    return next(i for i, names in enumerate(LAYERS) if name in names) if name != "__init__" else -1


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports_of(name: str, path: Path):
    """Every geodesic_stage module that `path` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geodesic_stage"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield candidate if (PACKAGE / Path(*candidate.split(".")[1:])).with_suffix(".py").exists() \
                    or (PACKAGE / Path(*candidate.split(".")[1:])).is_dir() else node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("geodesic_stage"))


GRAPH = {name: set(imports_of(name, path)) - {name} for name, path in modules()}


def test_every_module_has_a_layer():
    assert [m for m in GRAPH if m != "geodesic_stage" and not any(room(m) in names for names in LAYERS)] == []


def test_imports_run_down_the_layers_only():
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target != "geodesic_stage" and layer(target) > layer(module)
    )
    assert upward == []


def test_no_two_modules_import_each_other_even_through_others():
    seen, stack, circles = set(), [], []

    def visit(node):
        if node in stack:
            circles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for target in sorted(GRAPH.get(node, ())):
            if target in GRAPH and target != "geodesic_stage":
                visit(target)
        stack.pop()

    for module in sorted(GRAPH):
        visit(module)
    assert circles == []


def test_every_init_is_empty_and_every_package_imports_on_its_own():
    packages = sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)
    # A docstring at most: importing a package runs nothing and loads nothing.
    assert [str(p.relative_to(ROOT)) for p in packages if ast.parse((p / "__init__.py").read_text()).body[ast.get_docstring(
        ast.parse((p / "__init__.py").read_text())) is not None:]] == []
    for name in sorted(GRAPH):
        done = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{name}: {done.stderr.strip().splitlines()[-1:]}"


def test_a_wheel_holds_every_package_and_runs_as_a_module(tmp_path):
    # From a copy, as a user's checkout: an earlier build/ in the work tree would lend the wheel stale files.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "bench", "tests"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("geodesic_stage-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=300)
    installed = {str(p.relative_to(target / "geodesic_stage").with_suffix("")) for p in (target / "geodesic_stage").rglob("*.py")}
    here = {str(p.relative_to(PACKAGE).with_suffix("")) for p in PACKAGE.rglob("*.py")}
    assert installed == here
    # The installed copy first on the path (an editable install's finder comes after it), dependencies from this venv.
    run = (
        "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); import geodesic_stage; "
        "assert geodesic_stage.__file__.startswith(sys.path[0]), geodesic_stage.__file__; "
        "sys.argv[0] = 'geodesic-stage'; runpy.run_module('geodesic_stage', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", run, str(target), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "credential-process" in done.stdout
