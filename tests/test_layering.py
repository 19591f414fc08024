"""Guards on the shape of the repository: the flow of imports, no large files.

The stages import one way, along the flow sample -> label -> store -> graph ->
model -> train -> prediction -> explain, then the paper's experiment (which
trains and scores models), with the calculator, the command line
and the plugins on top and a few shared modules (keys, errors, data, ...)
below every stage. Large files belong to the shipped data only.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ase_phonongnn"

#: Rank of each top-level module or subpackage of ase_phonongnn in the flow;
#: a module may import only from ranks below or equal to its own.
RANK = {
    "sample": 1,
    "label": 2,
    "store": 3,
    "graph": 4,
    "model": 5,
    "train": 6,
    "prediction": 7,
    "explain": 8,
    "experiment": 9,
    "calculator": 10,
    "cli": 11,
}
#: Shared by every stage, importing none: rank 0. The package's own
#: ``__init__`` is its facade and sits on top.
SHARED = ("_config", "_json", "_version", "data", "errors", "keys", "structures")
TOP = 12

#: Imports against the flow that the design accepts, with the reason.
ACCEPTED = {
    ("label", "store"): "label_snapshots writes its labels into a SnapshotStore",
}

#: Tracked files larger than this belong in ase_phonongnn/data (shipped) only.
MAX_BYTES = 5 * 1024 * 1024
SHIPPED_DATA = "ase_phonongnn/data/"


def _rank(part: str) -> int:
    if part in SHARED:
        return 0
    if part == "__init__":
        return TOP
    return RANK[part]


def _imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every ase_phonongnn module that ``path`` imports."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module))
    return [(line, name) for line, name in found if name.startswith("ase_phonongnn.")]


def flow_violations(package: Path = PACKAGE) -> dict[tuple[str, str], list[str]]:
    """Return ``{(importer, imported): ["file:line", ...]}`` against the flow."""
    violations: dict[tuple[str, str], list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        mine = path.relative_to(package).with_suffix("").parts[0]
        for line, name in _imported_modules(path, package.parent):
            other = name.split(".")[1]
            if other != mine and _rank(other) > _rank(mine):
                where = f"{path.relative_to(package.parent)}:{line}"
                violations.setdefault((mine, other), []).append(where)
    return violations


def test_every_module_has_a_rank() -> None:
    names = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert names <= set(RANK) | set(SHARED), names - set(RANK) - set(SHARED)


def test_no_stage_imports_a_later_one() -> None:
    violations = flow_violations()
    unexpected = {k: v for k, v in violations.items() if k not in ACCEPTED}
    assert not unexpected, (
        "imports against the flow sample -> label -> store -> graph -> model -> "
        f"train -> prediction -> explain -> experiment -> calculator/cli: {unexpected}"
    )
    stale = set(ACCEPTED) - set(violations)
    assert not stale, f"accepted exceptions no longer needed: {stale}"


def test_the_check_sees_an_import_against_the_flow(tmp_path: Path) -> None:
    """A sampler that imports the trainer is reported, relative or absolute."""
    fake = tmp_path / "ase_phonongnn"
    (fake / "sample").mkdir(parents=True)
    (fake / "sample" / "__init__.py").write_text(
        "from ase_phonongnn.train import train\nfrom ..prediction import predict\n"
    )
    found = flow_violations(fake)
    assert set(found) == {("sample", "train"), ("sample", "prediction")}


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.stdout.decode().split("\0") if name]


def test_no_large_file_outside_the_shipped_data() -> None:
    large = []
    for name in _tracked_files():
        path = ROOT / name
        if path.is_file() and not name.startswith(SHIPPED_DATA):
            if path.stat().st_size > MAX_BYTES:
                large.append(f"{name} ({path.stat().st_size / 2**20:.1f} MiB)")
    assert not large, (
        f"tracked files over {MAX_BYTES // 2**20} MiB outside {SHIPPED_DATA}: "
        f"{large}; keep large results out of git or ship them as data"
    )


def test_every_subpackage_ships() -> None:
    """setup.cfg lists packages by name: a new subpackage must be among them."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in PACKAGE.rglob("__init__.py")
    }
    assert found <= listed, f"add to setup.cfg [options] packages: {found - listed}"
