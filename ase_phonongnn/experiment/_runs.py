"""Training runs of the learning curves and of the table, and their scores."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch_geometric.data import Data

from ase_phonongnn.experiment._config import ExperimentConfig
from ase_phonongnn.experiment._data import Layout, largest_size
from ase_phonongnn.model import GraphModel
from ase_phonongnn.train import (
    Split,
    TrainResult,
    predict_graphs,
    regression_metrics,
    train,
)


def target_graphs(
    graphs: Sequence[Data], targets: Sequence[str], target: str
) -> list[Data]:
    """Shallow copies of graphs labelled with every target, with one target's ``y``."""
    column = list(targets).index(target)
    out = []
    for graph in graphs:
        single = copy.copy(graph)
        single.y = graph.y[:, column : column + 1]
        out.append(single)
    return out


def n_labelled(graphs: Sequence[Data], indices: Sequence[int]) -> int:
    """How many of the graphs at ``indices`` have a finite (single) label."""
    return int(sum(bool(np.isfinite(float(graphs[i].y[0, 0]))) for i in indices))


def score(
    model: GraphModel,
    graphs: Sequence[Data],
    test_sets: Mapping[str, Sequence[int]],
) -> dict[str, dict[str, float]]:
    """MAE, RMSE, R² and n of a one-target model on each named set of graphs."""
    union = sorted({i for indices in test_sets.values() for i in indices})
    predicted = predict_graphs(model, [graphs[i] for i in union])[model.targets[0]]
    by_index = dict(zip(union, predicted, strict=True))
    return {
        name: regression_metrics(
            [float(graphs[i].y[0, 0]) for i in indices],
            [by_index[i] for i in indices],
        )
        for name, indices in test_sets.items()
    }


def curve_test_sets(layout: Layout) -> dict[str, tuple[int, ...]]:
    """Return the fixed test set of each kind, and all together (``combined``)."""
    return {
        **{kind: layout.test[kind] for kind in layout.kinds},
        "combined": layout.combined_test(),
    }


@dataclass(frozen=True)
class CurveKey:
    """What identifies a learning-curve run: model, training kind, size, seed."""

    model: str
    kind: str
    size: int
    seed: int


def curve_model(
    layout: Layout, graphs: Sequence[Data], config: ExperimentConfig, key: CurveKey
) -> TrainResult:
    """Train the model of one learning-curve run (deterministic in its seed)."""
    split = layout.curve_split(
        key.kind, key.size, key.seed, config.n_validation(key.size)
    )
    return train(
        layout.structures,
        config.model_config(key.model, config.target),
        config.train_config(key.model, key.seed),
        split=split,
        graphs=graphs,
    )


def curve_run(
    layout: Layout, graphs: Sequence[Data], config: ExperimentConfig, key: CurveKey
) -> dict[str, Any]:
    """Train the run ``key`` and score it on every test set.

    Returns
    -------
    dict
        ``train_kind``, ``model``, ``size``, ``seed``, ``n_validation``,
        ``best_epoch``, ``epochs``, ``seconds`` and ``metrics``: per set
        (``train``, ``validation``, each kind, ``combined``) the
        MAE, RMSE, R² and n of the target.
    """
    start = time.perf_counter()
    result = curve_model(layout, graphs, config, key)
    metrics = {
        name: result.metrics[name][config.target] for name in ("train", "validation")
    }
    metrics.update(score(result.model, graphs, curve_test_sets(layout)))
    return {
        "train_kind": key.kind,
        "model": key.model,
        "size": key.size,
        "seed": key.seed,
        "n_validation": config.n_validation(key.size),
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "seconds": time.perf_counter() - start,
        "metrics": metrics,
    }


def table_kinds(config: ExperimentConfig) -> tuple[str, ...]:
    """Return the kinds the Table-1 models train and test on."""
    return config.kinds if config.table_data == "combined" else (config.table_data,)


def table_split(layout: Layout, config: ExperimentConfig) -> Split:
    """Training and validation from the pools, test: the fixed test sets.

    The pools of :func:`table_kinds` are shuffled with ``config.test_seed``;
    training takes as many as fit with a validation set in the 70:15 ratio
    (at most ``config.table_size``).
    """
    kinds = table_kinds(config)
    pool = [i for kind in kinds for i in layout.pools[kind]]
    order = [
        pool[k] for k in np.random.default_rng(config.test_seed).permutation(len(pool))
    ]
    size = largest_size(len(pool), config)
    if config.table_size is not None:
        size = min(size, config.table_size)
    n_validation = config.n_validation(size)
    test = tuple(i for kind in kinds for i in layout.test[kind])
    return Split(tuple(order[:size]), tuple(order[size : size + n_validation]), test)


def table_run(
    layout: Layout,
    graphs: Sequence[Data],
    config: ExperimentConfig,
    split: Split,
    *,
    model: str,
    target: str,
) -> dict[str, Any]:
    """Train ``model`` on one target (Table 1 of the paper) and score every split.

    Returns
    -------
    dict
        ``target``, ``model``, ``n_train``, ``n_validation``, ``best_epoch``,
        ``epochs``, ``seconds``, ``metrics`` (``train``, ``validation``,
        ``test`` and the test set of each kind; plus ``forces`` on the test set
        when the model learnt them) and ``test_predictions`` (``labels``,
        ``predictions``).
    """
    start = time.perf_counter()
    result = train(
        layout.structures,
        config.model_config(model, target),
        config.train_config(model, config.test_seed),
        split=split,
        graphs=graphs,
    )
    metrics: dict[str, Any] = {
        name: result.metrics[name][target] for name in ("train", "validation", "test")
    }
    kinds = table_kinds(config)
    if len(kinds) > 1:
        tests = {f"test_{kind}": layout.test[kind] for kind in kinds}
        metrics.update(score(result.model, graphs, tests))
    if "forces" in result.metrics["test"]:
        metrics["test_forces"] = result.metrics["test"]["forces"]
    labels, predictions = result.predictions["test"][target]
    return {
        "target": target,
        "model": model,
        "n_train": len(split.train),
        "n_validation": len(split.validation),
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "seconds": time.perf_counter() - start,
        "metrics": metrics,
        "test_predictions": {
            "labels": [float(v) for v in labels],
            "predictions": [float(v) for v in predictions],
        },
    }
