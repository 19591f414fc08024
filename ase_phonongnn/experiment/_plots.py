"""Figures: learning curves with error bands (Fig. 4) and Table-1 parity plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ase_phonongnn import keys
from ase_phonongnn.experiment._config import TARGET_ORDER
from ase_phonongnn.experiment._report import curve_stats, recorded_kinds
from ase_phonongnn.train import plot_parity

_COLOURS = {"phonon": "tab:blue", "random": "tab:orange", "md": "tab:green"}
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D")
_NAMES = {"phonon": "phonon-informed", "random": "random", "md": "MD"}
_TITLES = {kind: f"{name} test set" for kind, name in _NAMES.items()}
_TITLES["combined"] = "combined test set"


def plot_curves(
    records: Sequence[Mapping[str, Any]],
    models: Sequence[str],
    target: str,
    path: Path,
) -> Path:
    """Write test MAE and R² against training size, mean ± std over seeds.

    One column per test set (phonon-informed, random, MD where recorded,
    combined), rows MAE and R²; colour: training data, line style: model;
    log-scaled size axis.
    """
    kinds = recorded_kinds(records)
    test_kinds = (*kinds, "combined")
    figure = Figure(figsize=(4.3 * len(test_kinds), 7.0), layout="constrained")
    axes = figure.subplots(2, len(test_kinds), sharex=True, squeeze=False)
    unit = keys.UNITS.get(target, "")
    ticks = sorted({int(r["size"]) for r in records})
    for column, test_kind in enumerate(test_kinds):
        for row, metric in enumerate(("mae", "r2")):
            axis = axes[row, column]
            for m, model in enumerate(models):
                for train_kind in kinds:
                    stats = curve_stats(
                        records, model, train_kind, test_kind, target, metric
                    )
                    if not stats:
                        continue
                    sizes = np.array(list(stats), dtype=float)
                    mean = np.array([v[0] for v in stats.values()])
                    std = np.array([v[1] for v in stats.values()])
                    colour = _COLOURS[train_kind]
                    axis.plot(
                        sizes,
                        mean,
                        linestyle=_STYLES[m % len(_STYLES)],
                        marker=_MARKERS[m % len(_MARKERS)],
                        color=colour,
                        label=f"{model}, trained on {train_kind}",
                    )
                    axis.fill_between(
                        sizes, mean - std, mean + std, color=colour, alpha=0.15
                    )
            axis.set_xscale("log")
            axis.set_xticks(ticks, [str(t) for t in ticks])
            axis.minorticks_off()
            axis.grid(alpha=0.3)
            if row == 0:
                axis.set_title(_TITLES[test_kind])
                axis.set_ylabel(f"test MAE ({unit})")
            else:
                axis.set_xlabel("training structures")
                axis.set_ylabel("test R²")
    axes[0, 0].legend(fontsize="small")
    against = " against ".join(_NAMES[k] for k in kinds)
    figure.suptitle(f"{target}: {against} training data")
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=120, format="png")
    return path


def plot_table_parity(
    records: Sequence[Mapping[str, Any]], model: str, path: Path
) -> Path | None:
    """Write the test-set parity plots of one model's Table-1 runs (one per target)."""
    pairs = {
        r["target"]: (
            np.array(r["test_predictions"]["labels"], dtype=float),
            np.array(r["test_predictions"]["predictions"], dtype=float),
        )
        for r in sorted(records, key=lambda r: TARGET_ORDER[r["target"]])
        if r["model"] == model
    }
    if not pairs:
        return None
    written: Path = plot_parity(pairs, path)
    return written
