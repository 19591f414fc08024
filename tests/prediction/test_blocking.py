"""Block averaging against the exact statistics of AR(1) series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from ase_phonongnn.prediction import block_average, time_averages


def ar1(phi: float, n: int, rng: np.random.Generator, replicas: int | None = None):
    r"""x_t = phi x_{t-1} + e_t, e ~ N(0, 1), started from the stationary law.

    Variance :math:`1/(1-\phi^2)`, autocorrelation :math:`\phi^k`, statistical
    inefficiency :math:`g = 1 + 2\sum_k \phi^k = (1+\phi)/(1-\phi)`.
    """
    shape = (n,) if replicas is None else (replicas, n)
    noise = rng.standard_normal(shape)
    start = rng.standard_normal((*shape[:-1], 1)) / math.sqrt(1 - phi**2)
    series, _ = lfilter([1.0], [1.0, -phi], noise, axis=-1, zi=phi * start)
    return series


def exact_error(phi: float, n: int) -> float:
    """Exact standard deviation of the mean of n stationary AR(1) samples."""
    k = np.arange(1, n)
    factor = 1 + 2 * np.sum((1 - k / n) * phi**k)
    return math.sqrt(factor / ((1 - phi**2) * n))


def test_error_of_a_correlated_series_matches_theory():
    phi, n = 0.9, 2**16
    result = block_average(ar1(phi, n, np.random.default_rng(0)))
    assert result.converged
    # 128 blocks: the estimate itself scatters by 1/sqrt(2 * 127) = 6 %
    assert result.error == pytest.approx(exact_error(phi, n), rel=0.2)
    # the naive error misses the correlation: sqrt(g) = sqrt(19) = 4.4 times
    assert result.statistical_inefficiency == pytest.approx(19.0, rel=0.4)
    assert result.error / result.naive_error > 3.0
    assert result.block_size >= 64  # longer than the correlation time (~10)


def test_errors_are_calibrated_over_many_series():
    phi, n, replicas = 0.8, 2**14, 200
    series = ar1(phi, n, np.random.default_rng(1), replicas)
    results = [block_average(x) for x in series]
    means = np.array([r.mean for r in results])
    errors = np.array([r.error for r in results])
    theory = exact_error(phi, n)
    # the estimated errors average to the exact one...
    assert errors.mean() == pytest.approx(theory, rel=0.08)
    # ...which is the actual scatter of the means (200 replicas: ±5 %)
    assert means.std() == pytest.approx(theory, rel=0.15)
    # and mean ± 2 error covers the true mean (0) about 95 % of the time
    coverage = np.mean(np.abs(means) < 2 * errors)
    assert 0.9 < coverage <= 1.0


def test_uncorrelated_and_constant_series():
    white = np.random.default_rng(2).standard_normal(4096)
    result = block_average(white)
    assert result.converged
    assert result.statistical_inefficiency == pytest.approx(1.0, abs=0.5)
    assert result.error == pytest.approx(1 / 64, rel=0.25)
    constant = block_average(np.full(100, 2.5))
    assert (constant.mean, constant.error, constant.converged) == (2.5, 0.0, True)


def test_a_series_shorter_than_its_correlation_is_flagged():
    short = ar1(0.99, 200, np.random.default_rng(3))  # correlation time ~100
    result = block_average(short)
    assert not result.converged
    assert result.n_blocks >= 8
    assert result.error >= result.naive_error


def test_discard_and_bad_series():
    series = np.r_[np.full(10, 100.0), np.zeros(50)]
    assert block_average(series, discard=10).mean == 0.0
    with pytest.raises(ValueError, match="at least 2 samples"):
        block_average([1.0])
    with pytest.raises(ValueError, match="at least 2 samples"):
        block_average([1.0, 2.0], discard=1)
    with pytest.raises(ValueError, match="NaN"):
        block_average([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="one-dimensional"):
        block_average(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="discard"):
        block_average([1.0, 2.0, 3.0], discard=-1)


def test_time_averages_of_predictions_skip_vectors():
    rng = np.random.default_rng(4)
    forces = np.empty(64, dtype=object)
    forces[:] = [rng.standard_normal((4, 3)) for _ in range(64)]
    predictions = {
        "band_gap": 1.0 + 0.01 * rng.standard_normal(64),
        "stress": rng.standard_normal((64, 6)),
        "forces": forces,
    }
    averages = time_averages(predictions)
    assert set(averages) == {"band_gap"}
    assert averages["band_gap"].mean == pytest.approx(1.0, abs=0.01)
    assert averages["band_gap"].to_dict()["n_samples"] == 64
