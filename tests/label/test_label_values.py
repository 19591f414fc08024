"""Labels of ASE calculators through label_snapshots: definitions, failures, errors."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from _label_helpers import FlakyEMT, al_cells, cu_snapshots
from ase.build import bulk
from ase.cluster import Octahedron
from ase.units import GPa

from ase_phonongnn import keys
from ase_phonongnn.label import label_snapshots, resolve_calculator
from ase_phonongnn.store import SnapshotStore


def _emt_energy(atoms, strain=0.0):
    from ase.calculators.emt import EMT

    strained = atoms.copy()
    strained.set_cell(atoms.cell * (1.0 + strain), scale_atoms=True)
    strained.calc = EMT()
    return strained.get_potential_energy(), strained.get_volume()


def test_definitions_with_emt(tmp_path):
    snapshots = cu_snapshots(3)
    summary = label_snapshots(snapshots, "emt", tmp_path / "s.h5", progress=False)
    assert (summary.done, summary.failed, summary.pending) == (3, 0, 0)
    assert summary.unavailable_labels == (keys.BAND_GAP, keys.VBM)
    with SnapshotStore.open(tmp_path / "s.h5") as store:
        labelled = store.read_atoms()
    for atoms in labelled:
        energy = atoms.info[keys.ENERGY]
        assert atoms.info[keys.ENERGY_PER_ATOM] == energy / len(atoms)
        stress = atoms.info[keys.STRESS]
        assert atoms.info[keys.HYDROSTATIC_STRESS] == pytest.approx(
            stress[:3].sum() / 3 / GPa, rel=1e-12
        )
        # a calculator without eigenvalues says which labels it cannot give
        assert keys.BAND_GAP not in atoms.info and keys.VBM not in atoms.info
        provenance = atoms.info[keys.LABEL_PROVENANCE]
        assert provenance["unavailable_labels"] == [keys.BAND_GAP, keys.VBM]
        assert provenance["calculator_class"] == "ase.calculators.emt.EMT"
        assert provenance["versions"]["ase"]
        # sampling provenance travels with the snapshot
        assert atoms.info[keys.TEMPERATURE] == 300.0


def test_hydrostatic_stress_is_dE_dV_in_gpa(tmp_path):
    """ASE sign convention: positive = tensile; σ_h = (1/3V) dE/dε = dE/dV."""
    for scale in (0.97, 1.03):  # compressed, then stretched
        atoms = bulk("Cu", cubic=True)
        atoms.set_cell(atoms.cell * scale, scale_atoms=True)
        path = tmp_path / f"s{scale}.h5"
        label_snapshots([atoms], "emt", path, progress=False)
        with SnapshotStore.open(path) as store:
            hydrostatic = store[0].info[keys.HYDROSTATIC_STRESS]
        h = 1e-5
        (e_plus, v_plus), (e_minus, v_minus) = (
            _emt_energy(atoms, h),
            _emt_energy(atoms, -h),
        )
        dE_dV = (e_plus - e_minus) / (v_plus - v_minus)
        assert hydrostatic == pytest.approx(dE_dV / GPa, rel=1e-5)
        assert (hydrostatic < 0) == (scale < 1)


def test_failures_are_recorded_and_the_run_goes_on(tmp_path):
    snapshots = [*cu_snapshots(2), *al_cells(2)]
    path = tmp_path / "s.h5"
    summary = label_snapshots(snapshots, FlakyEMT, path, progress=False)
    assert (summary.done, summary.failed, summary.labelled) == (2, 2, 2)
    with SnapshotStore.open(path) as store:
        failed = store.read_atoms(status=keys.FAILED)
    assert [len(a) for a in failed] == [4, 4]
    for atoms in failed:
        assert atoms.info[keys.LABEL_MESSAGE] == (
            "RuntimeError: SCF not converged in 250 cycles"
        )
        assert keys.ENERGY not in atoms.info
    again = label_snapshots(snapshots, FlakyEMT, path, progress=False)
    assert (again.labelled, again.newly_failed, again.skipped) == (0, 0, 4)
    retried = label_snapshots(
        snapshots, FlakyEMT, path, retry_failed=True, progress=False
    )
    assert (retried.newly_failed, retried.skipped, retried.failed) == (2, 2, 2)


def test_resume_never_duplicates(tmp_path):
    snapshots = cu_snapshots(4)
    path = tmp_path / "s.h5"
    label_snapshots(snapshots[:2], "emt", path, progress=False)
    summary = label_snapshots(snapshots + snapshots[:1], "emt", path, progress=False)
    assert (summary.labelled, summary.skipped, summary.done) == (2, 2, 4)
    with SnapshotStore.open(path) as store:
        assert len(store) == 4
        assert len(set(store.content_hashes())) == 4


def test_pending_snapshots_of_a_store_are_labelled(tmp_path):
    path = tmp_path / "s.h5"
    with SnapshotStore.create(path) as store:
        store.add(cu_snapshots(2))
    summary = label_snapshots(None, "emt", path, progress=False)
    assert (summary.done, summary.labelled) == (2, 2)


def test_non_periodic_structures_need_include_stress_false(tmp_path):
    cluster = Octahedron("Cu", 3)
    path = tmp_path / "s.h5"
    with pytest.raises(
        ValueError, match=r"pbc=\[False, False, False\].*include_stress=False"
    ):
        label_snapshots([*cu_snapshots(1), cluster], "emt", path, progress=False)
    assert not path.exists()  # nothing written
    label_snapshots(cu_snapshots(1), "emt", path, progress=False)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="include_stress=False"):
        label_snapshots([cluster], "emt", path, progress=False)
    assert path.read_bytes() == before
    summary = label_snapshots(
        [cluster], "emt", path, include_stress=False, progress=False
    )
    assert summary.labelled == 1
    with SnapshotStore.open(path) as store:
        atoms = store[-1]
    assert keys.STRESS not in atoms.info and keys.HYDROSTATIC_STRESS not in atoms.info
    assert atoms.arrays[keys.FORCES].shape == (len(cluster), 3)


@pytest.mark.parametrize(
    ("calculator", "error", "match"),
    [
        ("vasp-please", ValueError, "unknown calculator 'vasp-please'"),
        ("no_such_module:make", ValueError, "cannot import module 'no_such_module'"),
        ("ase.calculators.emt:Nope", ValueError, "has no 'Nope'"),
        (42, TypeError, "calculator must be a name"),
    ],
)
def test_bad_calculators_leave_the_store_untouched(tmp_path, calculator, error, match):
    path = tmp_path / "s.h5"
    label_snapshots(cu_snapshots(1), "emt", path, progress=False)
    before = path.read_bytes()
    with pytest.raises(error, match=match):
        label_snapshots(cu_snapshots(2, seed=5), calculator, path, progress=False)
    assert path.read_bytes() == before


def test_a_calculator_instance_is_not_a_factory():
    from ase.calculators.emt import EMT

    with pytest.raises(TypeError, match="must be a factory"):
        resolve_calculator(EMT())


def test_module_factory_names():
    from ase.calculators.emt import EMT
    from ase.calculators.lj import LennardJones

    assert resolve_calculator("ase.calculators.lj:LennardJones") == (
        LennardJones,
        "ase.calculators.lj:LennardJones",
    )
    assert resolve_calculator(" EMT ") == (EMT, "emt")


def test_calculator_options_reach_the_calculator_and_its_provenance(tmp_path):
    from ase.calculators.lj import LennardJones

    options = {"sigma": 2.3, "epsilon": 0.5, "rc": 6.0}
    snapshots = cu_snapshots(2)
    path = tmp_path / "lj.h5"
    label_snapshots(
        snapshots,
        "ase.calculators.lj:LennardJones",
        path,
        ProcessPoolExecutor(1),  # the configured factory crosses to a worker
        calculator_options=options,
        progress=False,
    )
    with SnapshotStore.open(path) as store:
        labelled = store.read_atoms()
    for atoms, snapshot in zip(labelled, snapshots, strict=True):
        direct = snapshot.copy()
        direct.calc = LennardJones(**options)
        assert atoms.info[keys.ENERGY] == pytest.approx(
            direct.get_potential_energy(), rel=1e-12
        )
        provenance = atoms.info[keys.LABEL_PROVENANCE]
        assert provenance[keys.LABELLER] == "ase.calculators.lj:LennardJones"
        for key, value in options.items():
            assert provenance["parameters"][key] == value
    # the default sigma gives other energies: the options were not ignored
    default = snapshots[0].copy()
    default.calc = LennardJones()
    assert labelled[0].info[keys.ENERGY] != pytest.approx(
        default.get_potential_energy(), rel=1e-3
    )


def test_options_configure_a_built_in_calculator_under_its_name():
    pytest.importorskip("tblite")
    factory, name = resolve_calculator("gfn2-xtb", {"retry": False})
    assert name == "gfn2-xtb"
    assert factory().todict()["retry"] is False
    assert resolve_calculator("gfn2-xtb")[0]().todict()["retry"] is True


def test_an_option_the_factory_does_not_take_is_refused_before_writing(tmp_path):
    pytest.importorskip("tblite")
    with pytest.raises(TypeError, match="does not take the options"):
        label_snapshots(
            cu_snapshots(1),
            "gfn2-xtb",
            tmp_path / "s.h5",
            calculator_options={"retries": False},  # retry=, misspelt
            progress=False,
        )
    assert not (tmp_path / "s.h5").exists()


def test_labels_do_not_depend_on_order(tmp_path):
    snapshots = cu_snapshots(3)
    label_snapshots(snapshots, "emt", tmp_path / "a.h5", progress=False)
    label_snapshots(snapshots[::-1], "emt", tmp_path / "b.h5", progress=False)
    with (
        SnapshotStore.open(tmp_path / "a.h5") as a,
        SnapshotStore.open(tmp_path / "b.h5") as b,
    ):
        forward = {x.info[keys.CONTENT_HASH]: x for x in a.read_atoms()}
        for atoms in b.read_atoms():
            same = forward[atoms.info[keys.CONTENT_HASH]]
            assert atoms.info[keys.ENERGY] == same.info[keys.ENERGY]
            assert np.array_equal(atoms.arrays[keys.FORCES], same.arrays[keys.FORCES])


def test_a_label_config_stands_for_the_keywords(tmp_path):
    from ase.calculators.lj import LennardJones

    from ase_phonongnn.label import LabelConfig

    options = {"sigma": 2.3, "epsilon": 0.5, "rc": 6.0}
    config = LabelConfig(calculator_options=options, progress=False)
    assert LabelConfig.from_dict(config.to_dict()) == config
    snapshots = cu_snapshots(2)
    path = tmp_path / "lj.h5"
    lj = "ase.calculators.lj:LennardJones"
    assert label_snapshots(snapshots, lj, path, config=config).done == 2
    with SnapshotStore.open(path) as store:
        energy = store.read_atoms()[0].info[keys.ENERGY]
    direct = snapshots[0].copy()
    direct.calc = LennardJones(**options)
    assert energy == pytest.approx(direct.get_potential_energy(), rel=1e-12)
    with pytest.raises(ValueError, match="calculator_options given both"):
        label_snapshots(snapshots, lj, path, calculator_options=options, config=config)
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        LabelConfig(max_in_flight=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        label_snapshots(snapshots, "emt", tmp_path / "t.h5", timeout=-1.0)
