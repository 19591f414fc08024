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
        Same shape, any; entries whose label is NaN are skipped.

    Returns
    -------
    dict
        ``mae`` and ``rmse`` in the unit of the values, ``r2`` (coefficient of
        determination, NaN with fewer than 2 values or constant labels) and
        ``n``.
    """
    y = np.asarray(true, dtype=np.float64).ravel()
    p = np.asarray(predicted, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"true and predicted differ in size ({y.size} vs {p.size})")
    keep = np.isfinite(y)
    y, p = y[keep], p[keep]
    n = int(y.size)
    if n == 0:
        return {"mae": math.nan, "rmse": math.nan, "r2": math.nan, "n": 0}
    error = p - y
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(error**2)) / total if n > 1 and total > 0 else math.nan
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "r2": r2,
        "n": n,
    }
