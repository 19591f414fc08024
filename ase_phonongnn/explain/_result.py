"""EdgeImportance, the explanation of one prediction, and bond-type statistics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase.data import chemical_symbols
from numpy.typing import NDArray

from ase_phonongnn.explain._config import SIGNIFICANCE_THRESHOLD

#: Histogram bins of scaled importances in bond-type statistics.
N_BINS = 20


def bond_type(first: int, second: int) -> str:
    """Return the name of the bond between two elements, e.g. ``"Ag-S"``.

    The less electronegative element (Pauling) comes first, as in chemical
    formulas; elements without a value and ties go by atomic number. The
    name does not depend on the order of the arguments.

    Parameters
    ----------
    first, second
        Atomic numbers.
    """
    from ase_phonongnn.graph import PAULING_ELECTRONEGATIVITY as chi

    def key(z: int) -> tuple[float, int]:
        value = chi[z] if 0 < z < len(chi) else math.nan
        return (math.inf if math.isnan(value) else value, z)

    a, b = sorted((int(first), int(second)), key=key)
    return f"{_symbol(a)}-{_symbol(b)}"


def _symbol(z: int) -> str:
    return chemical_symbols[z] if 0 < z < len(chemical_symbols) else f"Z{z}"


def scale_unit_interval(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Min-max scale scores (E,) to [0, 1]; all zero when they are all equal."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores.copy()
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 1e-12 * max(abs(high), abs(low), 1e-300):
        return np.zeros_like(scores)
    return (scores - low) / (high - low)


@dataclass(frozen=True, eq=False)
class EdgeImportance:
    r"""Importance of every edge of a graph for one prediction.

    Attributes
    ----------
    method
        ``"gnnexplainer"`` or ``"integrated-gradients"``.
    target
        The explained output, a :mod:`ase_phonongnn.keys` target name.
    unit
        Unit of ``target``.
    prediction
        The model's prediction with every edge, in ``unit``.
    baseline_prediction
        Integrated gradients: the prediction with every edge removed, in
        ``unit`` (``raw`` sums to ``prediction - baseline_prediction`` up to
        the quadrature error); None for GNNExplainer.
    numbers
        Atomic numbers, shape (n,).
    positions
        Cartesian positions in Å, shape (n, 3).
    cell
        Cell vectors as rows in Å, shape (3, 3).
    edge_index
        Source and target atom of every edge, shape (2, E), as in
        :func:`~ase_phonongnn.graph.build_graph` (both directions of a pair
        are two edges).
    edge_shift
        Integer lattice translation of every edge, shape (E, 3): the edge
        goes from atom ``i`` to the image of atom ``j`` at
        :math:`\mathbf{r}_j + \mathbf{S}\,\mathbf{C}`.
    distances
        Edge lengths in Å, shape (E,).
    raw
        The method's own values, shape (E,): GNNExplainer's edge mask after
        the sigmoid (dimensionless, in [0, 1]; 0 for edges whose messages do
        not reach the prediction); integrated-gradient attributions in
        ``unit``, signed.
    importance
        ``|raw|`` min-max scaled to [0, 1] over the edges of this structure,
        shape (E,) (all 0 if every edge scores the same).
    threshold
        Scaled importance above which an edge is significant.
    seed
        Seed the explanation was computed with.
    """

    method: str
    target: str
    unit: str
    prediction: float
    baseline_prediction: float | None
    numbers: NDArray[np.int64]
    positions: NDArray[np.float64]
    cell: NDArray[np.float64]
    edge_index: NDArray[np.int64]
    edge_shift: NDArray[np.int64]
    distances: NDArray[np.float64]
    raw: NDArray[np.float64]
    importance: NDArray[np.float64] = field(repr=False)
    threshold: float = SIGNIFICANCE_THRESHOLD
    seed: int = 0

    def __post_init__(self) -> None:
        n_edges = self.edge_index.shape[1]
        for name in ("distances", "raw", "importance"):
            if getattr(self, name).shape != (n_edges,):
                raise ValueError(
                    f"{name} must have one value per edge, shape ({n_edges},) "
                    f"(got {getattr(self, name).shape})"
                )
        for array in (
            self.numbers,
            self.positions,
            self.cell,
            self.edge_index,
            self.edge_shift,
            self.distances,
            self.raw,
            self.importance,
        ):
            array.setflags(write=False)

    @property
    def n_edges(self) -> int:
        """Number of edges E."""
        return int(self.edge_index.shape[1])

    @property
    def symbols(self) -> list[str]:
        """Chemical symbols of the atoms, (n,)."""
        return [_symbol(int(z)) for z in self.numbers]

    @property
    def bond_types(self) -> NDArray[np.str_]:
        """Element pair of every edge, e.g. ``"Ag-S"``, shape (E,)."""
        pairs = self.numbers[self.edge_index.T]
        names = {
            (int(a), int(b)): bond_type(int(a), int(b))
            for a, b in {tuple(p) for p in pairs.tolist()}
        }
        return np.array([names[(int(a), int(b))] for a, b in pairs], dtype=np.str_)

    @property
    def significant(self) -> NDArray[np.bool_]:
        """Whether each edge's scaled importance exceeds ``threshold``, (E,)."""
        return np.asarray(self.importance > self.threshold)

    def ranking(self) -> NDArray[np.int64]:
        """Edge indices from most to least important (ties by index), (E,)."""
        return np.argsort(-self.importance, kind="stable").astype(np.int64)

    def edge_vectors(self) -> NDArray[np.float64]:
        """Edge vectors in Å, shape (E, 3)."""
        source, target = self.edge_index
        return np.asarray(
            self.positions[target]
            - self.positions[source]
            + self.edge_shift @ self.cell,
            dtype=np.float64,
        )

    def to_dict(self, *, edges: bool = False) -> dict[str, Any]:
        """Return a JSON-ready summary; with ``edges`` also every edge."""
        types = self.bond_types
        significant = self.significant
        out: dict[str, Any] = {
            "method": self.method,
            "target": self.target,
            "unit": self.unit,
            "prediction": self.prediction,
            "baseline_prediction": self.baseline_prediction,
            "seed": self.seed,
            "threshold": self.threshold,
            "n_atoms": int(self.numbers.size),
            "n_edges": self.n_edges,
            "n_significant": int(significant.sum()),
            "significant_by_bond_type": {
                name: int(count)
                for name, count in zip(
                    *np.unique(types[significant], return_counts=True), strict=True
                )
            },
        }
        if edges:
            out["edges"] = {
                "source": self.edge_index[0].tolist(),
                "target": self.edge_index[1].tolist(),
                "shift": self.edge_shift.tolist(),
                "distance": self.distances.tolist(),
                "bond_type": types.tolist(),
                "raw": self.raw.tolist(),
                "importance": self.importance.tolist(),
            }
        return out


@dataclass(frozen=True)
class BondTypeStatistics:
    """Scaled edge importances of one bond type over a set of structures.

    Attributes
    ----------
    bond_type
        Element pair, e.g. ``"Ag-S"``.
    n_edges
        Population: number of edges of this type.
    population
        Fraction of all edges that are of this type.
    mean, std, median
        Of the scaled importances of these edges.
    n_significant
        Edges of this type above the threshold.
    fraction_significant
        ``n_significant / n_edges``.
    share_of_significant
        Fraction of all significant edges that are of this type (0 if there
        are none).
    histogram
        Probability density of the scaled importances on :data:`N_BINS`
        equal bins of [0, 1], shape (N_BINS,); integrates to 1.
    """

    bond_type: str
    n_edges: int
    population: float
    mean: float
    std: float
    median: float
    n_significant: int
    fraction_significant: float
    share_of_significant: float
    histogram: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "bond_type": self.bond_type,
            "n_edges": self.n_edges,
            "population": self.population,
            "mean": self.mean,
            "std": self.std,
            "median": self.median,
            "n_significant": self.n_significant,
            "fraction_significant": self.fraction_significant,
            "share_of_significant": self.share_of_significant,
            "histogram": list(self.histogram),
        }


def aggregate_bond_types(
    results: EdgeImportance | Iterable[EdgeImportance],
    *,
    threshold: float | None = None,
) -> dict[str, BondTypeStatistics]:
    """Return importance statistics per bond type over explained structures.

    Parameters
    ----------
    results
        One explanation or several (e.g. from
        :func:`~ase_phonongnn.explain.explain_dataset`); every edge of every
        structure counts once.
    threshold
        Scaled importance above which an edge is significant; default: the
        threshold of each result.

    Returns
    -------
    dict
        Bond type -> :class:`BondTypeStatistics`, sorted by decreasing mean
        importance.

    Raises
    ------
    ValueError
        If there is no result or no edge, or ``threshold`` is outside [0, 1].
    """
    items: Sequence[EdgeImportance] = (
        [results] if isinstance(results, EdgeImportance) else list(results)
    )
    if not items:
        raise ValueError("no explanations to aggregate (got an empty sequence)")
    for item in items:
        if not isinstance(item, EdgeImportance):
            raise TypeError(
                f"results must hold EdgeImportance objects (got {type(item).__name__})"
            )
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1] (got {threshold})")
    types = np.concatenate([r.bond_types for r in items])
    values = np.concatenate([r.importance for r in items])
    significant = np.concatenate(
        [
            r.importance > (r.threshold if threshold is None else float(threshold))
            for r in items
        ]
    )
    if values.size == 0:
        raise ValueError("the explained structures have no edges")
    n_total, n_significant = values.size, int(significant.sum())
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    stats = []
    for name in np.unique(types):
        chosen = types == name
        subset = values[chosen]
        hits = int(significant[chosen].sum())
        density, _ = np.histogram(subset, bins=edges, density=True)
        stats.append(
            BondTypeStatistics(
                bond_type=str(name),
                n_edges=int(subset.size),
                population=subset.size / n_total,
                mean=float(subset.mean()),
                std=float(subset.std()),
                median=float(np.median(subset)),
                n_significant=hits,
                fraction_significant=hits / subset.size,
                share_of_significant=hits / n_significant if n_significant else 0.0,
                histogram=tuple(float(v) for v in density),
            )
        )
    stats.sort(key=lambda s: (-s.mean, s.bond_type))
    return {s.bond_type: s for s in stats}
