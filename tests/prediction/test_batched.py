"""Batched prediction: equal to the calculator, trajectories, outputs, errors."""

from __future__ import annotations

import csv

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from ase_phonongnn import PhononGNNCalc, SnapshotStore, keys, predict
from ase_phonongnn.prediction import (
    Committee,
    PredictionConfig,
    UnsupportedElementError,
    UnsupportedStructureError,
    iter_predictions,
    read_structures,
    write_predictions,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def mixed_structures() -> list[Atoms]:
    """Crystals of 1 to 32 atoms, Cu, Ag and Au, orthogonal and not."""
    structures = []
    cu = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    cu3au = bulk("Cu", "fcc", a=3.75, cubic=True)
    cu3au.numbers[0] = 79
    agau = bulk("Ag", "fcc", a=4.08, cubic=True) * (2, 1, 1)
    agau.numbers[::2] = 79
    for seed, atoms in enumerate(
        [
            cu,
            cu3au,
            bulk("Ag", "fcc", a=4.09),  # one atom, primitive (sheared) cell
            agau,
            bulk("Au", "fcc", a=4.08) * (2, 2, 1),
            cu3au * (1, 1, 2),
            bulk("Cu", "bcc", a=2.9) * (2, 1, 1),
        ]
    ):
        atoms.rattle(0.06, seed=seed)
        structures.append(atoms)
    return structures


def one_at_a_time(calc: PhononGNNCalc, structures, names):
    rows = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = calc
        rows.append({name: calc.get_property(name, atoms) for name in names})
    return rows


@pytest.mark.parametrize(
    ("dtype", "rtol"), [(torch.float64, 1e-11), (torch.float32, 2e-6)]
)
def test_batches_of_mixed_structures_equal_the_calculator(property_model, dtype, rtol):
    model = property_model(seed=1, dtype=dtype)
    structures = mixed_structures()
    calc = PhononGNNCalc(model, device="cpu")
    expected = one_at_a_time(calc, structures, calc.implemented_properties)
    for batch_size in (3, len(structures), None):
        out = predict(model, structures, batch_size=batch_size, device="cpu")
        assert set(out) == set(calc.implemented_properties)
        for k, row in enumerate(expected):
            for name, value in row.items():
                scale = np.abs(value).max() + 1e-3
                np.testing.assert_allclose(
                    out[name][k], value, rtol=rtol, atol=rtol * scale, err_msg=name
                )
    assert out[keys.FORCES][2].shape == (1, 3)
    assert out[keys.STRESS].shape == (len(structures), 6)


def test_committee_batches_equal_the_committee_calculator(property_model):
    models = [property_model(seed=s) for s in (6, 7, 8)]
    structures = mixed_structures()[:4]
    calc = PhononGNNCalc(models, device="cpu")
    expected = one_at_a_time(calc, structures, calc.implemented_properties)
    out = predict(models, structures, batch_size=2, device="cpu")
    for k, row in enumerate(expected):
        for name, value in row.items():
            np.testing.assert_allclose(out[name][k], value, rtol=1e-11, atol=1e-12)
    assert (out["band_gap_std"] > 0).all()


def test_properties_select_what_is_computed(property_model):
    model = property_model(seed=1)
    out = predict(model, mixed_structures(), properties=["band_gap", "vbm"])
    assert set(out) == {keys.BAND_GAP, keys.VBM}
    with pytest.raises(ValueError, match="'dipole' not given by this model"):
        predict(model, mixed_structures(), properties=["dipole"])


def test_a_prediction_config_stands_for_the_keywords(property_model, tmp_path):
    model = property_model(seed=1)
    config = PredictionConfig(batch_size=2, properties=["band_gap", "vbm"])
    assert PredictionConfig.from_dict(config.to_dict()) == config
    assert PredictionConfig(properties="vbm").properties == ("vbm",)
    by_keywords = predict(
        model, mixed_structures(), batch_size=2, properties=["band_gap", "vbm"]
    )
    by_config = predict(model, mixed_structures(), config=config)
    assert set(by_config) == {keys.BAND_GAP, keys.VBM}
    for name, values in by_keywords.items():
        np.testing.assert_array_equal(by_config[name], values)
    with pytest.raises(ValueError, match="batch_size given both"):
        predict(model, mixed_structures(), batch_size=3, config=config)
    with pytest.raises(TypeError, match="config must be a PredictionConfig"):
        predict(model, mixed_structures(), config={"batch_size": 2})
    out = tmp_path / "pred.csv"
    assert write_predictions(model, mixed_structures(), out, config=config) == len(
        mixed_structures()
    )
    assert "vbm" in out.read_text().splitlines()[0]
    compiled = PredictionConfig(compile_messages=True)
    assert PredictionConfig.from_dict(compiled.to_dict()) == compiled
    loaded = Committee.load(model, "cpu")
    with pytest.raises(
        ValueError, match=r"Committee\.load instead \(compile_messages too\)"
    ):
        predict(loaded, mixed_structures(), config=compiled)


def test_attach_writes_results_into_atoms_info(property_model):
    structures = mixed_structures()[:3]
    out = predict(property_model(seed=1), structures, attach=True)
    for k, atoms in enumerate(structures):
        assert atoms.info[keys.BAND_GAP] == out[keys.BAND_GAP][k]
        np.testing.assert_array_equal(atoms.arrays[keys.FORCES], out[keys.FORCES][k])


def cu_trajectory(n: int = 9) -> list[Atoms]:
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 1)
        atoms.rattle(0.08, seed=k)
        frames.append(atoms)
    return frames


def lammps_dump(frames: list[Atoms]) -> str:
    lines = []
    for step, atoms in enumerate(frames):
        lengths = atoms.cell.lengths()
        lines += [
            "ITEM: TIMESTEP",
            str(step),
            "ITEM: NUMBER OF ATOMS",
            str(len(atoms)),
            "ITEM: BOX BOUNDS pp pp pp",
            *(f"0.0 {length:.10f}" for length in lengths),
            "ITEM: ATOMS id element x y z",
            *(
                f"{i + 1} {symbol} {x:.10f} {y:.10f} {z:.10f}"
                for i, (symbol, (x, y, z)) in enumerate(
                    zip(atoms.get_chemical_symbols(), atoms.positions, strict=True)
                )
            ),
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("frames.extxyz", "extxyz"),
        ("frames.traj", "traj"),
        ("XDATCAR", "vasp-xdatcar"),
        ("dump.lammpstrj", "lammps-dump-text"),
    ],
)
def test_trajectory_files_that_ase_reads(cu_potential, tmp_path, name, fmt):
    frames = cu_trajectory()
    path = tmp_path / name
    if fmt == "lammps-dump-text":
        path.write_text(lammps_dump(frames))
    else:
        ase.io.write(path, frames, format=fmt)
    as_read = ase.io.read(path, ":", format=fmt)
    assert len(as_read) == len(frames)
    calc = PhononGNNCalc(cu_potential, device="cpu")
    out = predict(cu_potential, path, batch_size=4, format=fmt, device="cpu")
    for k, atoms in enumerate(as_read):
        atoms.calc = calc
        assert out[keys.ENERGY][k] == pytest.approx(
            atoms.get_potential_energy(), rel=1e-10
        )
        np.testing.assert_allclose(out[keys.FORCES][k], atoms.get_forces(), atol=1e-10)
    # a slice of the frames
    every_other = predict(cu_potential, path, index="::2", format=fmt)
    np.testing.assert_allclose(every_other[keys.ENERGY], out[keys.ENERGY][::2])


def test_store_input_and_output(property_model, tmp_path):
    model = property_model(seed=1)
    structures = mixed_structures()
    with SnapshotStore.create(tmp_path / "in.h5") as store:
        store.add(structures)
    from_store = predict(model, tmp_path / "in.h5", batch_size=3)
    direct = predict(model, structures, batch_size=3)
    np.testing.assert_allclose(from_store[keys.BAND_GAP], direct[keys.BAND_GAP])
    last_two = predict(model, tmp_path / "in.h5", index="-2:")
    np.testing.assert_allclose(last_two[keys.VBM], direct[keys.VBM][-2:])

    models = [model, property_model(seed=2)]
    written = write_predictions(models, structures, tmp_path / "out.h5", batch_size=3)
    assert written == len(structures)
    committee = predict(models, structures)
    with SnapshotStore.open(tmp_path / "out.h5") as store:
        assert store.counts()[keys.DONE] == len(structures)
        back = store.read_atoms()
    for k, atoms in enumerate(back):
        for name in (keys.ENERGY, keys.BAND_GAP, keys.VBM, keys.HYDROSTATIC_STRESS):
            assert atoms.info[name] == pytest.approx(committee[name][k], rel=1e-12)
        np.testing.assert_allclose(atoms.arrays[keys.FORCES], committee[keys.FORCES][k])
        provenance = atoms.info[keys.LABEL_PROVENANCE]
        assert provenance["labeller"] == "ase_phonongnn.prediction"
        assert provenance["committee_std"][keys.BAND_GAP] == pytest.approx(
            committee["band_gap_std"][k]
        )


def test_csv_extxyz_and_traj_outputs(property_model, tmp_path):
    model = property_model(seed=1)
    structures = mixed_structures()
    out = predict(model, structures)
    assert write_predictions(model, structures, tmp_path / "p.csv") == len(structures)
    with (tmp_path / "p.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["n_atoms"]) for r in rows] == [len(a) for a in structures]
    for k, row in enumerate(rows):
        assert float(row["band_gap"]) == out[keys.BAND_GAP][k]  # repr: exact
        assert float(row["stress_yz"]) == out[keys.STRESS][k, 3]
    assert "forces" not in rows[0]

    write_predictions(model, structures, tmp_path / "p.extxyz")
    back = ase.io.read(tmp_path / "p.extxyz", ":")
    for k, atoms in enumerate(back):
        assert atoms.info[keys.BAND_GAP] == pytest.approx(out[keys.BAND_GAP][k])
        assert atoms.info[keys.VBM] == pytest.approx(out[keys.VBM][k])
    write_predictions(model, structures, tmp_path / "p.traj")
    back = ase.io.read(tmp_path / "p.traj", ":")
    assert [atoms.info[keys.VBM] for atoms in back] == pytest.approx(out[keys.VBM])
    with pytest.raises(FileExistsError, match="exists"):
        write_predictions(model, structures, tmp_path / "p.csv")
    assert write_predictions(model, structures, tmp_path / "p.csv", overwrite=True)


def test_structures_are_read_one_batch_at_a_time(property_model):
    consumed = []

    def frames():
        for k in range(1000):
            consumed.append(k)
            yield mixed_structures()[1]

    stream = iter_predictions(property_model(seed=1), frames(), batch_size=8)
    next(stream)
    assert len(consumed) == 8
    for _ in range(8):
        next(stream)
    assert len(consumed) == 16


def test_default_batches_hold_up_to_the_atoms_per_batch(property_model):
    """By atoms: as many frames as fit; a larger frame alone; frames in order."""
    from ase_phonongnn.prediction import ATOMS_PER_BATCH
    from ase_phonongnn.prediction._batch import _batches

    limit = ATOMS_PER_BATCH["cpu"]
    small = bulk("Cu", "fcc", a=3.61, cubic=True)  # 4 atoms
    large = small.repeat((7, 7, 7))  # 1,372 atoms, more than the limit
    assert len(large) > limit
    frames = [small] * (limit // 4 + 3) + [large] + [small] * 2
    sizes = [[len(a) for a in chunk] for chunk in _batches(iter(frames), None, limit)]
    assert [sum(s) for s in sizes] == [limit, 12, len(large), 8]
    assert [n for s in sizes for n in s] == [len(a) for a in frames]
    consumed = []

    def stream():
        for k in range(1000):
            consumed.append(k)
            yield small

    next(iter_predictions(property_model(seed=1), stream()))
    # one batch of limit / 4 frames, and the frame that did not fit
    assert len(consumed) == limit // 4 + 1


def test_bad_input_is_refused_with_its_position(property_model, tmp_path):
    model = property_model(seed=1)
    structures = mixed_structures()
    nickel = bulk("Ni", "fcc", a=3.52)
    with pytest.raises(UnsupportedElementError, match="element Ni of structure 7"):
        predict(model, [*structures, nickel])
    cluster = Atoms("Cu2", positions=[(0, 0, 0), (2.5, 0, 0)])
    with pytest.raises(UnsupportedStructureError, match=r"structure 1 .* not a 3D"):
        predict(model, [structures[0], cluster])
    with pytest.raises(ValueError, match="no structures"):
        predict(model, [])
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predict(model, structures, batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer or None"):
        predict(model, structures, batch_size=2.5)
    with pytest.raises(TypeError, match=r"must be an ase\.Atoms"):
        predict(model, ["not a structure"])
    with pytest.raises(FileNotFoundError, match="no structure file"):
        predict(model, tmp_path / "missing.extxyz")
    with pytest.raises(FileNotFoundError, match="no model file"):
        predict(tmp_path / "missing.safetensors", structures)


def test_read_structures_yields_atoms_lazily(tmp_path):
    frames = cu_trajectory(5)
    ase.io.write(tmp_path / "t.extxyz", frames)
    reader = read_structures(tmp_path / "t.extxyz", index="1:4")
    assert [len(a) for a in reader] == [16, 16, 16]
    assert next(read_structures(frames[0])) is frames[0]
