"""Faithfulness of edge importances: deletion curves against random deletions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch_geometric.data import Batch, Data

from ase_phonongnn.explain._explain import explaining, resolve_target
from ase_phonongnn.explain._result import EdgeImportance
from ase_phonongnn.graph import element_features
from ase_phonongnn.model import GraphModel

#: Default fractions of the edges removed along a deletion curve.
DEFAULT_FRACTIONS = tuple(np.round(np.linspace(0.0, 0.5, 11), 10).tolist())
#: Graphs per batched forward pass.
_BATCH = 32


@dataclass(frozen=True, eq=False)
class DeletionCurve:
    r"""Change of a prediction as edges are removed, most important first.

    For each structure and fraction :math:`q`, the :math:`k = \lceil qE\rceil`
    edges of highest scaled importance are removed (ties by edge index) and
    :math:`|f(G) - f(G \setminus \mathrm{top}_k)|` is recorded; the same for
    ``n_random`` sets of k edges drawn at random. Both are averaged over the
    structures (and draws).

    Attributes
    ----------
    target, unit, method
        The explained output, its unit and the explanation method.
    fractions
        Fractions of the edges removed, shape (K,), increasing.
    top
        Mean absolute change of the prediction when the most important edges
        are removed, in ``unit``, shape (K,).
    random
        The same for random edges, shape (K,).
    random_std
        Standard deviation over structures and draws of the random-deletion
        change, shape (K,).
    n_structures, n_random, seed
        Structures averaged over, random draws per structure and fraction,
        seed of the draws.
    """

    target: str
    unit: str
    method: str
    fractions: NDArray[np.float64]
    top: NDArray[np.float64]
    random: NDArray[np.float64]
    random_std: NDArray[np.float64]
    n_structures: int
    n_random: int
    seed: int

    @property
    def area_top(self) -> float:
        """Area under the top-k curve (trapezoid over ``fractions``), in ``unit``."""
        return float(np.trapezoid(self.top, self.fractions))

    @property
    def area_random(self) -> float:
        """Area under the random-deletion curve, in ``unit``."""
        return float(np.trapezoid(self.random, self.fractions))

    @property
    def score(self) -> float:
        r"""Faithfulness in one number, in [-1, 1].

        :math:`(A_\mathrm{top} - A_\mathrm{random}) / (A_\mathrm{top} +
        A_\mathrm{random})`, the area between the two curves over their
        total area: 0 when the important edges matter no more than random
        ones, 1 when removing random edges changes nothing while removing the
        important ones does, negative when random edges matter more; 0 if
        neither changes the prediction.
        """
        total = self.area_top + self.area_random
        return (self.area_top - self.area_random) / total if total > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, with the score and areas."""
        return {
            "target": self.target,
            "unit": self.unit,
            "method": self.method,
            "score": self.score,
            "area_top": self.area_top,
            "area_random": self.area_random,
            "fractions": self.fractions.tolist(),
            "top": self.top.tolist(),
            "random": self.random.tolist(),
            "random_std": self.random_std.tolist(),
            "n_structures": self.n_structures,
            "n_random": self.n_random,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class BondTypeDeletion:
    """Change of a prediction when every edge of one bond type is removed.

    Attributes
    ----------
    bond_type
        Element pair, e.g. ``"Ag-S"``.
    n_edges
        Edges of this type over all structures.
    change
        Mean absolute change of the prediction when all edges of this type
        are removed, in the target's unit.
    random_change
        Mean absolute change when as many random edges are removed (per
        structure, ``n_random`` draws).
    ratio
        ``change / random_change`` (inf if only the bond type matters, NaN
        if neither changes anything): how much more the model relies on
        these bonds than on as many others.
    """

    bond_type: str
    n_edges: int
    change: float
    random_change: float
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (inf and NaN become None)."""
        ratio = self.ratio if np.isfinite(self.ratio) else None
        return {
            "bond_type": self.bond_type,
            "n_edges": self.n_edges,
            "change": self.change,
            "random_change": self.random_change,
            "ratio": ratio,
        }


def result_graph(
    result: EdgeImportance,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> Data:
    """Rebuild the graph an explanation was computed on, with its edge order."""
    numbers = torch.tensor(result.numbers, dtype=torch.int64)
    return Data(
        x=torch.tensor(element_features(result.numbers), dtype=dtype),
        z=numbers,
        pos=torch.tensor(result.positions, dtype=dtype),
        cell=torch.tensor(result.cell, dtype=dtype).unsqueeze(0),
        edge_index=torch.tensor(result.edge_index, dtype=torch.int64),
        edge_shift=torch.tensor(result.edge_shift, dtype=dtype),
        edge_weight=torch.tensor(result.distances, dtype=dtype),
        num_nodes=int(result.numbers.size),
    ).to(device)


def _without(graph: Data, removed: NDArray[np.int64]) -> Data:
    keep = torch.ones(graph.edge_index.shape[1], dtype=torch.bool)
    keep[torch.as_tensor(removed, dtype=torch.int64)] = False
    keep = keep.to(graph.edge_index.device)
    out = graph.clone()
    out.edge_index = graph.edge_index[:, keep]
    out.edge_shift = graph.edge_shift[keep]
    out.edge_weight = graph.edge_weight[keep]
    return out


def _predict(model: GraphModel, graphs: list[Data], target: str) -> NDArray[np.float64]:
    values = []
    with torch.no_grad():
        for start in range(0, len(graphs), _BATCH):
            batch = Batch.from_data_list(graphs[start : start + _BATCH])
            values.append(model(batch)[target].double().cpu().numpy())
    return np.concatenate(values)


def _check_results(
    model: GraphModel, results: EdgeImportance | Iterable[EdgeImportance]
) -> tuple[list[EdgeImportance], str]:
    items = [results] if isinstance(results, EdgeImportance) else list(results)
    if not items:
        raise ValueError("no explanations given (got an empty sequence)")
    for item in items:
        if not isinstance(item, EdgeImportance):
            raise TypeError(
                f"results must hold EdgeImportance objects (got {type(item).__name__})"
            )
    targets = {item.target for item in items}
    if len(targets) != 1:
        raise ValueError(
            f"the explanations are of different targets ({', '.join(sorted(targets))})"
            "; pass those of one target"
        )
    target = resolve_target(model, targets.pop())
    return items, target


def _model_dtype(model: GraphModel) -> tuple[torch.dtype, torch.device]:
    parameter = next(iter(model.parameters()), None)
    if parameter is None:
        return torch.float32, torch.device("cpu")
    return parameter.dtype, parameter.device


def deletion_curve(
    model: GraphModel,
    results: EdgeImportance | Iterable[EdgeImportance],
    *,
    fractions: ArrayLike = DEFAULT_FRACTIONS,
    n_random: int = 8,
    seed: int = 0,
) -> DeletionCurve:
    """Measure how faithful edge importances are to the model they explain.

    Parameters
    ----------
    model
        The model the explanations were computed for.
    results
        Explanations of one target (:func:`explain_prediction` or
        :func:`explain_dataset`).
    fractions
        Fractions of each structure's edges to remove, in [0, 1], increasing,
        at least two.
    n_random
        Random edge sets per structure and fraction.
    seed
        Seed of the random edge sets.

    Returns
    -------
    DeletionCurve
        Its :attr:`~DeletionCurve.score` is the faithfulness in one number.

    Raises
    ------
    ValueError
        For an empty ``results``, explanations of several targets or of a
        target the model does not predict, bad ``fractions`` or ``n_random``.
    """
    items, target = _check_results(model, results)
    q = np.asarray(fractions, dtype=np.float64)
    if (
        q.ndim != 1
        or q.size < 2
        or not np.all(np.isfinite(q))
        or q.min() < 0
        or q.max() > 1
        or np.any(np.diff(q) <= 0)
    ):
        raise ValueError(
            "fractions must be at least two increasing numbers in [0, 1] "
            f"(got {np.asarray(fractions).tolist()})"
        )
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
        raise ValueError(f"n_random must be a positive integer (got {n_random!r})")
    rng = np.random.default_rng(seed)
    dtype, device = _model_dtype(model)
    top_changes, random_changes = [], []
    with explaining(model):
        for item in items:
            graph = result_graph(item, dtype=dtype, device=device)
            order = item.ranking()
            counts = np.ceil(q * item.n_edges - 1e-9).astype(np.int64)
            graphs = [graph]
            graphs += [_without(graph, order[:k]) for k in counts]
            for k in counts:
                for _ in range(n_random):
                    drawn = rng.choice(item.n_edges, size=k, replace=False)
                    graphs.append(_without(graph, drawn))
            values = _predict(model, graphs, target)
            change = np.abs(values[1:] - values[0])
            top_changes.append(change[: q.size])
            random_changes.append(change[q.size :].reshape(q.size, n_random))
    random_all = np.concatenate(random_changes, axis=1)
    return DeletionCurve(
        target=target,
        unit=items[0].unit,
        method=items[0].method,
        fractions=q,
        top=np.mean(top_changes, axis=0),
        random=random_all.mean(axis=1),
        random_std=random_all.std(axis=1),
        n_structures=len(items),
        n_random=n_random,
        seed=seed,
    )


def bond_type_deletion(
    model: GraphModel,
    results: EdgeImportance | Iterable[EdgeImportance],
    *,
    n_random: int = 8,
    seed: int = 0,
) -> dict[str, BondTypeDeletion]:
    """Measure how much a model relies on each bond type.

    For each structure and bond type, all edges of that type are removed and
    the absolute change of the prediction is compared with that of removing
    as many edges drawn at random from the whole structure. Uses only the
    structures of the explanations, not their importances: the measurement
    that makes "this model relies on Ag-S" a claim with a number.

    Returns
    -------
    dict
        Bond type -> :class:`BondTypeDeletion`, sorted by decreasing ratio.
    """
    items, target = _check_results(model, results)
    if isinstance(n_random, bool) or not isinstance(n_random, int) or n_random < 1:
        raise ValueError(f"n_random must be a positive integer (got {n_random!r})")
    rng = np.random.default_rng(seed)
    dtype, device = _model_dtype(model)
    changes: dict[str, list[float]] = {}
    random_changes: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    with explaining(model):
        for item in items:
            graph = result_graph(item, dtype=dtype, device=device)
            types = item.bond_types
            names = sorted(set(types.tolist()))
            graphs = [graph]
            for name in names:
                chosen = np.flatnonzero(types == name)
                graphs.append(_without(graph, chosen))
                for _ in range(n_random):
                    drawn = rng.choice(item.n_edges, size=chosen.size, replace=False)
                    graphs.append(_without(graph, drawn))
            values = _predict(model, graphs, target)
            change = np.abs(values[1:] - values[0]).reshape(len(names), 1 + n_random)
            for row, name in enumerate(names):
                changes.setdefault(name, []).append(float(change[row, 0]))
                random_changes.setdefault(name, []).extend(change[row, 1:].tolist())
                counts[name] = counts.get(name, 0) + int(np.sum(types == name))
    out = []
    for name in changes:
        mean = float(np.mean(changes[name]))
        reference = float(np.mean(random_changes[name]))
        if reference > 0:
            ratio = mean / reference
        else:
            ratio = float("inf") if mean > 0 else float("nan")
        out.append(BondTypeDeletion(name, counts[name], mean, reference, ratio))
    out.sort(key=lambda d: (_sort_key(d.ratio), d.bond_type))
    return {d.bond_type: d for d in out}


def _sort_key(ratio: float) -> float:
    """Decreasing ratio; inf first, NaN last."""
    if np.isnan(ratio):
        return float("inf")
    return -ratio
