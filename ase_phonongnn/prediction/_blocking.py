r"""Mean and standard error of a correlated time series by block averaging.

Successive frames of a molecular-dynamics run are correlated, so the naive
standard error :math:`s/\sqrt{N}` underestimates the uncertainty of their
mean by the square root of the statistical inefficiency
:math:`g = 1 + 2\sum_{k\ge1}\rho_k` (:math:`\rho_k` the autocorrelation at
lag k). Block averaging (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461
(1989)) averages neighbouring pairs again and again: once blocks are longer
than the correlation time, the block means are independent and the naive
error of the block means is the true error of the mean, a plateau in the
block size. The block size is chosen by the criterion of Lee, Needs &
Towler (Phys. Rev. E 83, 066706 (2011), as in the ``pyblock`` package): the
smallest :math:`B = 2^k` with :math:`B^3 > 2N(\sigma_B/\sigma_1)^4`, where
:math:`\sigma_B` is the error estimated from blocks of B samples.

Written here because no installed dependency does it: numpy, scipy and ASE
have no blocking analysis, and the packages that do (``pyblock``,
``pymbar``'s statistical inefficiency, ``emcee``'s autocorrelation time)
are unmaintained or large dependencies for ~40 lines of numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Fewest blocks from which an error is read when no plateau is found.
MIN_BLOCKS = 8


@dataclass(frozen=True)
class BlockAverage:
    r"""Mean of a time series with its block-averaging standard error.

    Attributes
    ----------
    mean
        Mean of the samples, in their unit.
    error
        Standard error of the mean, in the samples' unit: the estimate at
        :attr:`block_size` when :attr:`converged`; otherwise the largest
        estimate from at least :data:`MIN_BLOCKS` blocks, a lower bound
        (the series is too short for its correlation time: run longer).
    n_samples
        Length of the series used.
    block_size, n_blocks
        Samples per block and number of blocks at the chosen level.
    converged
        Whether the Lee-Needs-Towler criterion found a plateau with at least
        :data:`MIN_BLOCKS` blocks.
    naive_error
        :math:`s/\sqrt{N}`, right only for uncorrelated samples.
    block_sizes, errors
        Block size and error estimate at every blocking level, shape
        (n_levels,), for plotting the plateau.
    """

    mean: float
    error: float
    n_samples: int
    block_size: int
    n_blocks: int
    converged: bool
    naive_error: float
    block_sizes: NDArray[np.int64] = field(repr=False)
    errors: NDArray[np.float64] = field(repr=False)

    @property
    def statistical_inefficiency(self) -> float:
        r""":math:`g = (\mathrm{error}/\mathrm{naive\_error})^2`, ~2τ_int + 1."""
        if self.naive_error == 0:
            return 1.0
        return float((self.error / self.naive_error) ** 2)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready scalars."""
        return {
            "mean": self.mean,
            "error": self.error,
            "n_samples": self.n_samples,
            "block_size": self.block_size,
            "n_blocks": self.n_blocks,
            "converged": self.converged,
            "naive_error": self.naive_error,
            "statistical_inefficiency": self.statistical_inefficiency,
        }


def block_average(series: ArrayLike, *, discard: int = 0) -> BlockAverage:
    """Return the mean of a time series and its block-averaging error.

    Parameters
    ----------
    series
        Equally spaced samples, shape (N,), e.g. a property along an MD
        trajectory; any unit.
    discard
        Samples to drop from the start (equilibration).

    Returns
    -------
    BlockAverage

    Raises
    ------
    ValueError
        If fewer than 2 samples remain, or a sample is not finite.
    """
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"series must be one-dimensional (got shape {values.shape})")
    if isinstance(discard, bool) or not isinstance(discard, int) or discard < 0:
        raise ValueError(f"discard must be a non-negative integer (got {discard!r})")
    values = values[discard:]
    n = values.size
    if n < 2:
        raise ValueError(
            f"block averaging needs at least 2 samples (got {n} after discarding "
            f"{discard})"
        )
    if not np.isfinite(values).all():
        raise ValueError("series has NaN or infinite values; drop them first")
    sizes, errors, counts = [], [], []
    level, size = values, 1
    while level.size >= 2:
        sizes.append(size)
        counts.append(level.size)
        errors.append(math.sqrt(float(np.var(level, ddof=1)) / level.size))
        even = level[: level.size - level.size % 2]
        level = 0.5 * (even[0::2] + even[1::2])
        size *= 2
    error_array = np.array(errors)
    naive = float(error_array[0])
    chosen = 0 if naive == 0 else None  # a constant series: exact mean
    if naive > 0:
        for k, (b, e) in enumerate(zip(sizes, errors, strict=True)):
            if b**3 > 2 * n * (e / naive) ** 4:
                # fewer blocks than MIN_BLOCKS give no usable error estimate
                chosen = k if counts[k] >= MIN_BLOCKS else None
                break
    converged = chosen is not None
    if chosen is None:
        enough = [k for k, c in enumerate(counts) if c >= min(MIN_BLOCKS, n)]
        chosen = max(enough, key=lambda k: errors[k])
    return BlockAverage(
        mean=float(values.mean()),
        error=float(errors[chosen]),
        n_samples=n,
        block_size=int(sizes[chosen]),
        n_blocks=int(counts[chosen]),
        converged=converged,
        naive_error=naive,
        block_sizes=np.array(sizes, dtype=np.int64),
        errors=error_array,
    )


def time_averages(
    predictions: Mapping[str, ArrayLike], *, discard: int = 0
) -> dict[str, BlockAverage]:
    """Block-average every per-frame scalar series of a prediction.

    Parameters
    ----------
    predictions
        ``{property: values (n_frames,)}``, e.g. from
        :func:`~ase_phonongnn.prediction.predict` on a trajectory; per-atom and
        vector entries (forces, stress) are skipped.
    discard
        Frames to drop from the start (equilibration).

    Returns
    -------
    dict
        ``{property: BlockAverage}``.
    """
    out = {}
    for name, values in predictions.items():
        array = np.asarray(values)
        if array.ndim == 1 and array.dtype != object:
            out[name] = block_average(array, discard=discard)
    return out
