"""``phonongnn renormalise --calculator model:PATH``: a trained model in the loop."""

from __future__ import annotations

import numpy as np
import phonopy
from ase.build import bulk
from ase.calculators.emt import EMT

from ase_phonongnn.cli.main import main
from ase_phonongnn.sample import compute_force_constants, save_phonopy


def test_renormalise_with_a_trained_model(tmp_path, cu_potential_path) -> None:
    cu = bulk("Cu", "fcc", a=3.61, cubic=True)
    harmonic = compute_force_constants(cu, [2, 2, 2], EMT(), progress=False)
    start = save_phonopy(harmonic, tmp_path / "cu.yaml")
    out = tmp_path / "cu_100K.yaml"
    argv = ["renormalise", str(start), "--temperature", "100", "--out", str(out)]
    options = ["--n-snapshots", "8", "--max-iterations", "2", "--imaginary", "abs"]
    code = main([*argv, "--calculator", f"model:{cu_potential_path}", *options])
    assert code in (0, 1)  # 1: not converged in two iterations, still written
    renormalised = phonopy.load(str(out))
    # Cu at 100 K is nearly harmonic: the model (trained on EMT) gives EMT's
    # highest Γ frequency within 10 %
    top = renormalised.get_frequencies([0, 0, 0]).max()
    reference = harmonic.get_frequencies([0, 0, 0]).max()
    assert abs(top - reference) < 0.1 * reference
    assert np.isfinite(top)


def test_model_files_joined_by_commas_are_one_committee(
    tmp_path, cu_potential, cu_potential_path
) -> None:
    import shutil

    from ase_phonongnn.cli._calculators import calculator_factory

    second = shutil.copy(cu_potential_path, tmp_path / "cu-copy.safetensors")
    factory, _ = calculator_factory(f"model:{cu_potential_path},{second}")
    committee = factory()
    single = calculator_factory(f"model:{cu_potential_path}")[0]()
    cu = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    cu.rattle(0.05, seed=1)
    cu.calc = committee
    forces = cu.get_forces()
    cu.calc = single
    # two copies of one member: the committee's mean is that member's forces
    assert len(committee.committee.models) == 2
    np.testing.assert_allclose(forces, cu.get_forces(), rtol=1e-5, atol=1e-6)
