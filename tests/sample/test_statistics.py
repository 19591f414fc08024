"""Sampled displacement statistics against harmonic theory."""

from __future__ import annotations

import numpy as np
import pytest
from phonopy import Phonopy
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points
from phonopy.phonon.random_displacements import RandomDisplacements
from scipy import constants

from ase_phonongnn.sample import PhononSampler

AMU_A2 = constants.atomic_mass * constants.angstrom**2


def mean_square_from_phonopy(
    phonon: Phonopy, temperature: float, statistics: str
) -> np.ndarray:
    """⟨u²_jα⟩ from phonopy's own eigensolutions at the commensurate q-points.

    Independent of the sampler: phonopy's dynamical matrices per q, complex
    eigenvectors of the primitive cell, Γ acoustic modes left out.
    """
    qpoints = get_commensurate_points(phonon.supercell_matrix)
    phonon.run_qpoints(qpoints, with_eigenvectors=True)
    freqs = phonon.qpoints.frequencies  # (n_q, n_band) THz
    eigvecs = phonon.qpoints.eigenvectors  # (n_q, n_band(3 n_prim), n_band)
    omega = 2 * np.pi * 1e12 * np.abs(freqs)
    use = freqs > 0.01
    if statistics == "classical":
        var = constants.k * temperature / np.where(use, omega, 1.0) ** 2
    else:
        x = constants.hbar * np.where(use, omega, 1.0) / (constants.k * temperature)
        var = constants.hbar / (2 * np.where(use, omega, 1.0)) / np.tanh(x / 2)
    var = np.where(use, var, 0.0) / AMU_A2
    n_prim = len(phonon.primitive)
    weight = np.abs(eigvecs) ** 2  # (n_q, 3 n_prim, n_band)
    msd_prim = np.einsum("qb,qib->i", var, weight).reshape(n_prim, 3) / len(qpoints)
    msd_prim /= phonon.primitive.masses[:, None]
    s2p = phonon.primitive.p2p_map
    return msd_prim[[s2p[i] for i in phonon.primitive.s2p_map]]


@pytest.mark.parametrize("temperature", [150.0, 600.0])
def test_classical_normal_mode_variance_matches_theory(
    cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler, temperature: float
) -> None:
    n = 4000
    snaps = cu3au_sampler.sample(
        temperature, n, statistics="classical", seed=7, method="normal-mode"
    )
    u = np.array([a.positions for a in snaps]) - cu3au_sampler.supercell.positions
    sampled = np.mean(u**2, axis=0)
    theory = mean_square_from_phonopy(cu3au_phonon, temperature, "classical")
    # Gaussian u: the mean of u² over n draws has relative error sqrt(2/n) = 2.2 %.
    ratio = sampled / theory
    assert np.all(np.abs(ratio - 1) < 5 * np.sqrt(2 / n))
    assert abs(ratio.mean() - 1) < 0.01
    # And the analytic amplitudes of the sampler equal the theory exactly.
    zeta2 = cu3au_sampler.thermal_amplitudes(temperature, "classical") ** 2
    np.testing.assert_allclose(zeta2, theory, rtol=1e-6)
    # Au is heavier than Cu: its classical amplitude is smaller per mode weight.
    assert sampled.shape == (32, 3)


def test_quantum_limits(cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler) -> None:
    zero_point = cu3au_sampler.thermal_amplitudes(0.0, "quantum") ** 2
    np.testing.assert_allclose(
        zero_point, mean_square_from_phonopy(cu3au_phonon, 1e-3, "quantum"), rtol=1e-6
    )
    # At T -> 0 the classical amplitude vanishes but the quantum one does not.
    assert np.all(zero_point > 1e-4)
    low = cu3au_sampler.thermal_amplitudes(1.0, "quantum") ** 2
    np.testing.assert_allclose(low, zero_point, rtol=1e-10)
    # High T: coth(x/2) ≈ 2/x (1 + x²/12): quantum/classical -> 1 from above.
    high_q = cu3au_sampler.thermal_amplitudes(3000.0, "quantum") ** 2
    high_c = cu3au_sampler.thermal_amplitudes(3000.0, "classical") ** 2
    assert np.all(high_q > high_c)
    assert np.all(high_q / high_c - 1 < 2e-3)


def test_paper_method_gives_a_third_of_zeta_squared(
    cu3au_sampler: PhononSampler,
) -> None:
    n = 4000
    snaps = cu3au_sampler.sample(300.0, n, method="paper", seed=3)
    u = np.array([a.positions for a in snaps]) - cu3au_sampler.supercell.positions
    zeta2 = cu3au_sampler.thermal_amplitudes(300.0) ** 2
    ratio = np.mean(u**2, axis=0) / (zeta2 / 3)
    # u = ε ζ, ε ~ U[-1, 1]: relative error of the mean of u² is sqrt(4/5)/sqrt(n).
    assert np.all(np.abs(ratio - 1) < 5 * np.sqrt(0.8 / n))
    assert abs(ratio.mean() - 1) < 0.005
    # Each component is bounded by its amplitude, as eq. 3 says.
    assert np.all(np.abs(u) <= zeta2**0.5 + 1e-12)


def test_zg_matches_thermal_mean_square_per_species(
    cu3au_sampler: PhononSampler,
) -> None:
    symbols = np.array(cu3au_sampler.supercell.get_chemical_symbols())
    thermal = np.sum(cu3au_sampler.thermal_amplitudes(300.0) ** 2, axis=1)
    for seed in range(3):
        (snap,) = cu3au_sampler.sample(300.0, 1, method="zg", seed=seed)
        u = snap.positions - cu3au_sampler.supercell.positions
        for element in ("Au", "Cu"):
            mask = symbols == element
            ratio = np.sum(u[mask] ** 2, axis=1).mean() / thermal[mask].mean()
            assert abs(ratio - 1) < 0.02, (element, seed, ratio)


def test_covariance_agrees_with_phonopy_random_displacements(
    cu3au_phonon: Phonopy, cu3au_sampler: PhononSampler
) -> None:
    temperature = 400.0
    rd = RandomDisplacements(
        cu3au_phonon.supercell,
        cu3au_phonon.primitive,
        cu3au_phonon.force_constants,
    )
    rd.run_correlation_matrix(temperature)
    n = len(cu3au_phonon.supercell)
    phonopy_cov = rd.uu.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    ours = cu3au_sampler.covariance(temperature)
    np.testing.assert_allclose(ours, phonopy_cov, atol=1e-6 * np.abs(ours).max())
    # phonopy's samples have the covariance of ours, within sampling error.
    rd.run(temperature, number_of_snapshots=3000, random_seed=11)
    u = rd.u.reshape(3000, -1)
    sampled = u.T @ u / 3000
    scale = np.sqrt(np.outer(np.diag(ours), np.diag(ours)))
    assert np.max(np.abs(sampled - ours) / scale) < 6 * np.sqrt(2 / 3000)


def test_no_centre_of_mass_drift(cu3au_sampler: PhononSampler) -> None:
    masses = cu3au_sampler.supercell.get_masses()
    reference = cu3au_sampler.supercell.positions
    for method in ("normal-mode", "zg"):
        for snap in cu3au_sampler.sample(500.0, 20, method=method, seed=1):
            shift = masses @ (snap.positions - reference) / masses.sum()
            np.testing.assert_allclose(shift, 0.0, atol=1e-12)


def test_plus_minus_pairs_cancel(cu3au_sampler: PhononSampler) -> None:
    snaps = cu3au_sampler.sample(300.0, 10, plus_minus=True, seed=2)
    u = np.array([a.positions for a in snaps]) - cu3au_sampler.supercell.positions
    np.testing.assert_allclose(u[0::2], -u[1::2], atol=1e-12)


def test_random_method_is_uniform_with_amplitude(cu3au_sampler: PhononSampler) -> None:
    snaps = cu3au_sampler.sample(300.0, 2000, method="random", amplitude=0.2, seed=4)
    u = np.array([a.positions for a in snaps]) - cu3au_sampler.supercell.positions
    assert np.abs(u).max() <= 0.2
    # U[-a, a] has variance a²/3.
    assert abs(np.mean(u**2) / (0.2**2 / 3) - 1) < 0.01
