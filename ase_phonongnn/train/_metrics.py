"""Regression metrics: MAE, RMSE, R²."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def regression_metrics(true: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """Return MAE, RMSE, R² and the count of finite labels.

    Parameters
    ----------
    true, predicted
        Same size: one value per structure (n,), or one row per structure or
        atom with several components, (n, k) (forces, Voigt stress); entries
        whose label is NaN are skipped.

    Returns
    -------
    dict
        ``mae`` and ``rmse`` in the unit of the values, ``r2`` (coefficient of
        determination, NaN with fewer than 2 values or constant labels) and
        ``n``. With components, R² measures the error against each
        component's own spread about its mean: a stress tensor's pressure is
        a constant offset of its diagonal, which the spread of all components
        together would count as variance explained (on phonon-informed Ag3SBr
        snapshots R² 0.99 that way, while the hydrostatic stress scored 0.59).
    """
    y = np.asarray(true, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.size != p.size:
        raise ValueError(f"true and predicted differ in size ({y.size} vs {p.size})")
    y = y.reshape(len(y), -1) if y.ndim > 1 and y.size else y.reshape(-1, 1)
    p = p.reshape(y.shape)
    keep = np.isfinite(y)
    n = int(keep.sum())
    if n == 0:
        return {"mae": math.nan, "rmse": math.nan, "r2": math.nan, "n": 0}
    error = (p - y)[keep]
    counts = keep.sum(axis=0)
    means = np.where(keep, y, 0.0).sum(axis=0) / np.maximum(counts, 1)
    total = float(np.sum(np.where(keep, y - means, 0.0) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if n > 1 and total > 0 else math.nan
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": r2,
        "n": n,
    }
