"""Fuzzing the command line's inputs: a broken file is a one-line error, never a crash.

Valid inputs (a phonopy file, an extxyz trajectory, a snapshot store) are
damaged by hypothesis (truncated, bytes overwritten, lines replaced) and fed
to ``phonongnn sample``, ``predict`` and ``export``. Each run must succeed
or end with exit code 2 and one line on stderr; any other exception is a
failure of the test.
"""

from __future__ import annotations

import io
import lzma
from pathlib import Path

import ase.io
import pytest
from ase.build import bulk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ase_phonongnn.cli.main import main
from ase_phonongnn.store import SnapshotStore

DATA = Path(__file__).parents[2] / "ase_phonongnn" / "data"
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """``original`` truncated, overwritten in a span, or with a line replaced."""
    kind = draw(st.sampled_from(["truncate", "overwrite", "line"]))
    if kind == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if kind == "overwrite":
        start = draw(st.integers(0, len(original) - 1))
        patch = draw(st.binary(min_size=1, max_size=64))
        return original[:start] + patch + original[start + len(patch) :]
    lines = original.split(b"\n")
    where = draw(st.integers(0, len(lines) - 1))
    lines[where] = draw(
        st.sampled_from([b"", b"nan", b"1e308 1e308 1e308", b"- [", b"\xff\xfe", b"0"])
    )
    return b"\n".join(lines)


def _check(code: int, err: str, prog: str) -> None:
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith(f"phonongnn {prog}: error:") and err.count("\n") == 1, err


PARAMS = lzma.decompress((DATA / "Ag3SBr_300K_params.yaml.xz").read_bytes())


@FUZZ
@given(content=damaged(PARAMS))
def test_sample_fuzzed_phonopy_files(tmp_path, capsys, content):
    source = tmp_path / "phonopy_params.yaml"
    source.write_bytes(content)
    out = tmp_path / "out.extxyz"
    out.unlink(missing_ok=True)
    argv = ["sample", str(source), "-T", "300", "-n", "2", "--imaginary", "abs"]
    code = main([*argv, "--seed", "1", "--out", str(out)])
    _check(code, capsys.readouterr().err, "sample")


def _trajectory() -> bytes:
    frames = []
    for k in range(3):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
        atoms.rattle(0.05, seed=k)
        frames.append(atoms)
    buffer = io.StringIO()
    ase.io.write(buffer, frames, format="extxyz")
    return buffer.getvalue().encode()


TRAJECTORY = _trajectory()


@FUZZ
@given(content=damaged(TRAJECTORY))
def test_predict_fuzzed_trajectories(cu_potential_path, tmp_path, capsys, content):
    source = tmp_path / "md.extxyz"
    source.write_bytes(content)
    out = tmp_path / "pred.csv"
    out.unlink(missing_ok=True)
    argv = ["predict", str(cu_potential_path), str(source), "--no-progress"]
    code = main([*argv, "--device", "cpu", "--out", str(out)])
    _check(code, capsys.readouterr().err, "predict")
    assert out.exists() == (code == 0)


@pytest.fixture(scope="module")
def store_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("store") / "s.h5"
    frames = [bulk("Cu", "fcc", a=3.61, cubic=True) for _ in range(4)]
    for k, atoms in enumerate(frames):
        atoms.rattle(0.05, seed=k)
    with SnapshotStore.create(path) as store:
        store.add(frames)
        store.write_labels(0, {"energy": -1.0}, {"labeller": "emt"})
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_export_fuzzed_stores(store_bytes, tmp_path, capsys, data):
    content = data.draw(damaged(store_bytes))
    source = tmp_path / "fuzzed.h5"
    source.write_bytes(content)
    for stale in tmp_path.glob("fuzzed.h5.*"):
        stale.unlink()
    out = tmp_path / "out.extxyz"
    out.unlink(missing_ok=True)
    code = main(["export", str(source), "--status", "all", "--out", str(out)])
    _check(code, capsys.readouterr().err, "export")
