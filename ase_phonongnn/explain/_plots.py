"""Figures of edge importances (PNG, matplotlib's Agg canvas, no pyplot)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from ase.data import covalent_radii
from ase.data.colors import jmol_colors
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ase_phonongnn.explain._metrics import DeletionCurve
from ase_phonongnn.explain._result import (
    N_BINS,
    BondTypeStatistics,
    EdgeImportance,
    aggregate_bond_types,
)


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the directory of {target} does not exist")
    FigureCanvasAgg(figure)
    figure.savefig(target, dpi=120, format="png")
    return target


def plot_importance_density(
    results: Iterable[EdgeImportance] | Mapping[str, BondTypeStatistics],
    path: str | os.PathLike[str],
    *,
    threshold: float | None = None,
    title: str | None = None,
) -> Path:
    """Write the density of edge importances per bond type beside their population.

    The paper's Fig. 5e,f: left, one row per bond type (most important on
    top) with the density of its scaled importances on [0, 1], its mean and
    the significance threshold; right, the share of all edges of each type
    (population) against its share of the significant edges. A model that
    relies on a bond type has that type's significant share well above its
    population.

    Parameters
    ----------
    results
        Explanations (aggregated here), or the output of
        :func:`~ase_phonongnn.explain.aggregate_bond_types`.
    path
        PNG file to write.
    threshold
        Significance threshold drawn (and used when aggregating); default
        that of the results (0.86 unless set otherwise).
    title
        Figure title.

    Returns
    -------
    Path
        The file written.
    """
    if isinstance(results, Mapping):
        stats = dict(results)
        if threshold is None:
            raise ValueError(
                "give threshold=... with precomputed statistics (they do not "
                "record it), or pass the explanations themselves"
            )
    else:
        items = list(results)
        stats = aggregate_bond_types(items, threshold=threshold)
        if threshold is None:
            threshold = items[0].threshold
    if not stats:
        raise ValueError("nothing to plot: no bond types")
    names = list(stats)
    n = len(names)
    figure = Figure(figsize=(9.0, 1.0 + 0.7 * n), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(1.6, 1.0), sharey=True)
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    colours = colormaps["tab10"]
    for row, name in enumerate(names):
        s = stats[name]
        density = np.asarray(s.histogram)
        height = density / density.max() * 0.85 if density.max() > 0 else density
        base = n - 1 - row
        colour = colours(row % 10)
        left.stairs(
            base + height, edges, baseline=base, fill=True, color=colour, alpha=0.6
        )
        left.plot([s.mean, s.mean], [base, base + 0.9], color="k", linewidth=1.0)
    left.axvline(
        float(threshold),
        color="crimson",
        linestyle="--",
        linewidth=1.0,
        label=f"threshold {float(threshold):g}",
    )
    left.set_xlim(0.0, 1.0)
    left.set_yticks(np.arange(n) + 0.4, [names[n - 1 - k] for k in range(n)])
    left.set_xlabel("scaled edge importance")
    left.set_title("importance density (black: mean)")
    left.legend(loc="upper center", fontsize="small")
    y = np.arange(n)[::-1] + 0.4
    population = np.array([stats[k].population for k in names])
    share = np.array([stats[k].share_of_significant for k in names])
    right.barh(y + 0.17, population, height=0.33, color="0.6", label="all edges")
    right.barh(y - 0.17, share, height=0.33, color="crimson", label="significant edges")
    for yk, name in zip(y, names, strict=True):
        right.annotate(
            f"n = {stats[name].n_edges}",
            (0.0, yk + 0.17),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="x-small",
        )
    right.set_xlim(0.0, 1.0)
    right.set_xlabel("share by bond type")
    right.set_title("population")
    right.legend(loc="lower right", fontsize="small")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_significant_edges(
    result: EdgeImportance,
    path: str | os.PathLike[str],
    *,
    threshold: float | None = None,
    elevation: float = 20.0,
    azimuth: float = -60.0,
) -> Path:
    """Write a 3D picture of a structure with its significant edges drawn.

    Atoms are coloured by element (Jmol colours) and sized by covalent
    radius, the cell is outlined, and every edge above the threshold is a
    line from its source atom to the (possibly periodic image of the) target
    atom, coloured by its scaled importance; image atoms outside the cell
    are drawn faintly.

    Parameters
    ----------
    result
        One explanation.
    path
        PNG file to write.
    threshold
        Scaled importance above which an edge is drawn; default
        ``result.threshold``.
    elevation, azimuth
        Viewing angles in degrees.

    Returns
    -------
    Path
        The file written.
    """
    if not isinstance(result, EdgeImportance):
        raise TypeError(
            f"result must be an EdgeImportance (got {type(result).__name__})"
        )
    cut = result.threshold if threshold is None else float(threshold)
    if not 0.0 <= cut <= 1.0:
        raise ValueError(f"threshold must be in [0, 1] (got {threshold})")
    chosen = np.flatnonzero(result.importance > cut)
    chosen = chosen[np.argsort(result.importance[chosen], kind="stable")]
    figure = Figure(figsize=(6.4, 5.6), layout="constrained")
    axis = figure.add_subplot(projection="3d")
    cell = result.cell
    for corner in itertools.product((0, 1), repeat=3):
        start = np.asarray(corner) @ cell
        for direction in range(3):
            if corner[direction] == 0:
                axis.plot(
                    *np.stack([start, start + cell[direction]]).T,
                    color="0.7",
                    linewidth=0.6,
                )
    source = result.positions[result.edge_index[0, chosen]]
    end = source + result.edge_vectors()[chosen]
    norm = Normalize(vmin=cut, vmax=1.0)
    colour_map = colormaps["viridis"]
    for k, a, b in zip(chosen, source, end, strict=True):
        axis.plot(
            *np.stack([a, b]).T,
            color=colour_map(norm(result.importance[k])),
            linewidth=2.0,
        )
    shifted = result.edge_shift[chosen].any(axis=1)
    if shifted.any():
        images = result.numbers[result.edge_index[1, chosen[shifted]]]
        axis.scatter(
            *end[shifted].T,
            s=20 * covalent_radii[images] ** 2 * 4,
            c=jmol_colors[images],
            alpha=0.25,
            edgecolors="none",
        )
    for z in np.unique(result.numbers):
        where = result.numbers == z
        axis.scatter(
            *result.positions[where].T,
            s=80 * covalent_radii[z] ** 2,
            c=[jmol_colors[z]],
            edgecolors="k",
            linewidths=0.4,
            label=result.symbols[int(np.flatnonzero(where)[0])],
            depthshade=False,
        )
    axis.view_init(elev=elevation, azim=azimuth)
    axis.set_box_aspect(
        np.ptp(
            np.vstack([result.positions, end, np.zeros((1, 3)), cell.sum(0)]), axis=0
        )
        + 1e-9
    )
    axis.set_xlabel("x (Å)")
    axis.set_ylabel("y (Å)")
    axis.set_zlabel("z (Å)")
    axis.legend(loc="upper left", fontsize="small")
    figure.colorbar(
        ScalarMappable(norm=norm, cmap=colour_map),
        ax=axis,
        shrink=0.6,
        label="scaled importance",
    )
    axis.set_title(
        f"{result.target} ({result.method}): {chosen.size} of {result.n_edges} "
        f"edges above {cut:g}"
    )
    return _save(figure, path)


def plot_deletion_curve(curve: DeletionCurve, path: str | os.PathLike[str]) -> Path:
    """Write a deletion curve: prediction change against the fraction removed.

    Returns
    -------
    Path
        The PNG file written.
    """
    if not isinstance(curve, DeletionCurve):
        raise TypeError(f"curve must be a DeletionCurve (got {type(curve).__name__})")
    figure = Figure(figsize=(5.0, 3.8), layout="constrained")
    axis = figure.subplots()
    axis.plot(curve.fractions, curve.top, marker="o", label="most important first")
    axis.plot(
        curve.fractions,
        curve.random,
        marker="s",
        color="0.4",
        label=f"random ({curve.n_random} draws)",
    )
    axis.fill_between(
        curve.fractions,
        curve.random - curve.random_std,
        curve.random + curve.random_std,
        color="0.4",
        alpha=0.15,
    )
    axis.set_xlabel("fraction of edges removed")
    axis.set_ylabel(f"|change of {curve.target}| ({curve.unit})")
    axis.set_title(
        f"{curve.method}: faithfulness {curve.score:.2f} "
        f"({curve.n_structures} structures)"
    )
    axis.legend(fontsize="small")
    return _save(figure, path)
