"""Parity and learning-curve plots (PNG, matplotlib's Agg canvas, no pyplot)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ase_phonongnn import keys
from ase_phonongnn.train._metrics import regression_metrics
from ase_phonongnn.train._studies import LearningCurve
from ase_phonongnn.train._trainer import TrainResult


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    FigureCanvasAgg(figure)
    figure.savefig(target, dpi=120, format="png")
    return target


def plot_parity(
    result: TrainResult | Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    split: str = "test",
) -> Path:
    """Write predicted-against-true scatter plots, one panel per target.

    Parameters
    ----------
    result
        A :class:`TrainResult` (its predictions on ``split``), or a mapping
        ``{target: (labels, predictions)}``.
    path
        Output PNG file.
    split
        Which split of a :class:`TrainResult` to plot.

    Returns
    -------
    Path
        The file written.
    """
    pairs = result.predictions[split] if isinstance(result, TrainResult) else result
    if not pairs:
        raise ValueError("nothing to plot: no targets")
    figure = Figure(figsize=(4.4 * len(pairs), 4.2), layout="constrained")
    axes = figure.subplots(1, len(pairs), squeeze=False)[0]
    for axis, (target, (true, predicted)) in zip(axes, pairs.items(), strict=True):
        true, predicted = np.asarray(true), np.asarray(predicted)
        keep = np.isfinite(true) & np.isfinite(predicted)
        axis.scatter(true[keep], predicted[keep], s=12, alpha=0.7)
        if keep.any():
            low = float(min(true[keep].min(), predicted[keep].min()))
            high = float(max(true[keep].max(), predicted[keep].max()))
            axis.plot([low, high], [low, high], color="k", linewidth=0.8)
        m = regression_metrics(true, predicted)
        unit = keys.UNITS.get(target, "")
        axis.set_title(
            f"{keys.plot_label(target)} ({split})\n"
            f"MAE {m['mae']:.3g} {unit}, R² {m['r2']:.3f}, n = {m['n']}",
            fontsize=10,
        )
        # few ticks: labels such as -104.85 eV/atom are wide
        axis.xaxis.set_major_locator(MaxNLocator(4))
        axis.yaxis.set_major_locator(MaxNLocator(5))
        axis.set_xlabel(f"label ({unit})")
        axis.set_ylabel(f"prediction ({unit})")
        axis.set_aspect("equal", adjustable="datalim")
    return _save(figure, path)


def plot_learning_curve(
    curve: LearningCurve,
    path: str | os.PathLike[str],
    *,
    metric: str = "mae",
) -> Path:
    """Write test ``metric`` (mean ± std over seeds) against training-set size.

    Returns
    -------
    Path
        The PNG file written.
    """
    summary = curve.summary(metric)
    figure = Figure(figsize=(4.0 * len(summary), 3.6), layout="constrained")
    axes = figure.subplots(1, len(summary), squeeze=False)[0]
    for axis, (target, by_size) in zip(axes, summary.items(), strict=True):
        sizes = np.array(list(by_size))
        mean = np.array([v[0] for v in by_size.values()])
        std = np.array([v[1] for v in by_size.values()])
        axis.errorbar(sizes, mean, yerr=std, marker="o", capsize=3)
        unit = "" if metric == "r2" else f" ({keys.UNITS.get(target, '')})"
        axis.set_xlabel("training structures")
        axis.set_ylabel(f"test {metric.upper()}{unit}")
        axis.set_title(keys.plot_label(target))
        if metric != "r2" and np.all(mean > 0):
            axis.set_yscale("log")
    return _save(figure, path)
