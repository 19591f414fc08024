"""Self-consistent renormalisation: fixed point and failure report."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from ase.calculators.qmmm import ForceConstantCalculator
from phonopy import Phonopy

from ase_phonongnn.errors import ConvergenceError, UserInputError
from ase_phonongnn.sample import PhononSampler
from ase_phonongnn.sample.renormalise import (
    RenormalisationConfig,
    _copy_phonon,
    load_iteration_data,
    renormalise,
)


def harmonic_factory(sampler: PhononSampler) -> functools.partial:
    """Forces -Φ u of fixed force constants (ASE's ForceConstantCalculator)."""
    n = len(sampler.supercell)
    matrix = sampler.force_constants.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    return functools.partial(
        ForceConstantCalculator, matrix, sampler.supercell, np.zeros((n, 3))
    )


def test_harmonic_potential_is_a_fixed_point(
    cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler, tmp_path
) -> None:
    factory = harmonic_factory(cu3au_sampler)
    config = RenormalisationConfig(
        temperature=300.0, n_snapshots=8, mixing=1.0, tolerance_thz=1e-6
    )
    result = renormalise(
        cu3au_phonon, factory, config, checkpoint_dir=tmp_path, progress=False
    )
    assert result.converged and len(result.history) == 1
    # The displacement-force data of the iteration are kept, and they are
    # exactly the harmonic forces -Φ u.
    data = np.load(tmp_path / "iteration_000_data.npz")
    u, f = data["displacements"], data["forces"]
    n = u.shape[1]
    phi = cu3au_sampler.force_constants.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    np.testing.assert_allclose(
        f.reshape(len(f), -1), -u.reshape(len(u), -1) @ phi.T, atol=1e-10
    )
    fc = PhononSampler.from_phonopy(result.phonon).force_constants
    np.testing.assert_allclose(
        fc, cu3au_sampler.force_constants, atol=1e-8 * np.abs(fc).max()
    )
    # Start away from the answer: the harmonic forces bring it back at once.
    start = _copy_phonon(cu3au_phonon, 0.7 * cu3au_sampler.force_constants)
    result = renormalise(start, factory, config, progress=False)
    frequencies = PhononSampler.from_phonopy(result.phonon).modes.frequencies
    np.testing.assert_allclose(frequencies, cu3au_sampler.modes.frequencies, atol=1e-6)
    assert len(result.history) == 2  # the fit, then a confirming iteration


def test_iterations_go_to_the_log_not_to_stdout(
    cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler, capsys, caplog
) -> None:
    config = RenormalisationConfig(
        temperature=300.0, n_snapshots=4, mixing=1.0, tolerance_thz=1e-6
    )
    factory = harmonic_factory(cu3au_sampler)
    with caplog.at_level("INFO", logger="ase_phonongnn"):
        renormalise(cu3au_phonon, factory, config, progress=False)
    assert capsys.readouterr().out == ""
    assert [r.getMessage()[:12] for r in caplog.records] == ["iteration 0:"]


def test_no_convergence_is_reported(
    cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler
) -> None:
    start = _copy_phonon(cu3au_phonon, 0.5 * cu3au_sampler.force_constants)
    config = RenormalisationConfig(
        temperature=300.0,
        n_snapshots=4,
        mixing=0.2,
        max_iterations=2,
        tolerance_thz=1e-3,
    )
    with pytest.raises(ConvergenceError, match="no convergence in 2 iterations") as err:
        renormalise(start, harmonic_factory(cu3au_sampler), config, progress=False)
    assert len(err.value.result.history) == 2
    assert "iteration 1:" in str(err.value)


def test_resume_from_checkpoint(cu3au_phonon, cu3au_sampler, tmp_path) -> None:
    start = _copy_phonon(cu3au_phonon, 0.5 * cu3au_sampler.force_constants)
    factory = harmonic_factory(cu3au_sampler)
    short = RenormalisationConfig(
        temperature=300.0,
        n_snapshots=4,
        mixing=0.5,
        max_iterations=2,
        tolerance_thz=1e-3,
    )
    with pytest.raises(ConvergenceError):
        renormalise(start, factory, short, checkpoint_dir=tmp_path, progress=False)
    # Raising the iteration limit continues from the two saved iterations.
    longer = RenormalisationConfig(**{**short.to_dict(), "max_iterations": 30})
    result = renormalise(
        start, factory, longer, checkpoint_dir=tmp_path, progress=False
    )
    assert result.converged and result.history[2]["iteration"] == 2
    np.testing.assert_allclose(
        PhononSampler.from_phonopy(result.phonon).modes.frequencies,
        cu3au_sampler.modes.frequencies,
        atol=2e-3,
    )
    other = RenormalisationConfig(**{**short.to_dict(), "mixing": 0.3})
    # a user error: the command line says it in one line
    with pytest.raises(UserInputError, match="other settings"):
        renormalise(start, factory, other, checkpoint_dir=tmp_path, progress=False)


def test_pooled_fit_reads_earlier_iterations(
    cu3au_phonon, cu3au_sampler, tmp_path
) -> None:
    start = _copy_phonon(cu3au_phonon, 0.5 * cu3au_sampler.force_constants)
    factory = harmonic_factory(cu3au_sampler)
    single = RenormalisationConfig(
        temperature=300.0, n_snapshots=4, max_iterations=2, tolerance_thz=1e-9
    )
    with pytest.raises(ConvergenceError):
        renormalise(start, factory, single, checkpoint_dir=tmp_path, progress=False)
    # Pooling may be switched on when resuming: iteration 2 fits its own four
    # snapshots with the eight saved by iterations 0 and 1.
    pooled = RenormalisationConfig(
        **{**single.to_dict(), "max_iterations": 4, "pool": 3}
    )
    with pytest.raises(ConvergenceError) as err:
        renormalise(start, factory, pooled, checkpoint_dir=tmp_path, progress=False)
    history = err.value.result.history
    assert [r.get("n_fitted") for r in history] == [4, 4, 12, 12]
    u, f = load_iteration_data(tmp_path, [1, 2, 3])
    assert u.shape == f.shape == (12, len(cu3au_sampler.supercell), 3)
    # Harmonic forces from three different ensembles still fit Φ exactly, so
    # mixing halves the distance to it every iteration: 0.5 ** 5 after five.
    fc = PhononSampler.from_phonopy(err.value.result.phonon).force_constants
    np.testing.assert_allclose(
        fc, (1 - 0.5**5) * cu3au_sampler.force_constants, atol=1e-8 * np.abs(fc).max()
    )
    with pytest.raises(FileNotFoundError, match="iteration 7"):
        load_iteration_data(tmp_path, [7])


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"temperature": 0.0}, "temperature must be positive"),
        ({"temperature": 300.0, "n_snapshots": 3}, "even"),
        ({"temperature": 300.0, "mixing": 0.0}, "mixing"),
        ({"temperature": 300.0, "pool": 0}, "pool"),
        ({"temperature": 300.0, "imaginary": "nope"}, "imaginary policy"),
    ],
)
def test_bad_settings(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RenormalisationConfig(**options)
