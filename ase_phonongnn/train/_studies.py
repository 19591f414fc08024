"""Learning curves over training-set sizes and hyperparameter sweeps."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_phonongnn._json import to_jsonable
from ase_phonongnn.model import PAPER_ARCHITECTURES, ModelConfig
from ase_phonongnn.train._config import TrainConfig
from ase_phonongnn.train._data import labelled_graphs
from ase_phonongnn.train._split import Split
from ase_phonongnn.train._trainer import TrainResult, train

#: The paper's grid (PAPER.md): 5 learning rates x 4 widths x 4 dropouts,
#: for each of the six architectures: 480 models per property.
PAPER_GRID: Final[Mapping[str, tuple[Any, ...]]] = {
    "learning_rate": (1e-2, 1e-3, 1e-4, 1e-5, 1e-6),
    "hidden_channels": (32, 64, 128, 256),
    "dropout": (0.0, 0.2, 0.4, 0.6),
}
#: The six paper architectures, the ``model`` axis of the paper's sweep.
PAPER_MODELS: Final = tuple(PAPER_ARCHITECTURES)


@dataclass(frozen=True)
class LearningCurve:
    """Test metrics of models trained on growing training sets.

    Attributes
    ----------
    records
        One dict per (size, seed): ``size``, ``seed``, ``best_epoch`` and
        ``metrics`` (``{target: {"mae", "rmse", "r2", "n"}}`` on the fixed
        test set).
    test
        Indices of the held-out test structures, the same for every record.
    targets
        The targets of the models.
    """

    records: list[dict[str, Any]]
    test: tuple[int, ...]
    targets: tuple[str, ...]

    def summary(self, metric: str = "mae") -> dict[str, dict[int, tuple[float, float]]]:
        """Return ``{target: {size: (mean, std over seeds)}}`` of one metric."""
        out: dict[str, dict[int, tuple[float, float]]] = {}
        for target in self.targets:
            by_size: dict[int, list[float]] = {}
            for record in self.records:
                value = record["metrics"][target][metric]
                by_size.setdefault(record["size"], []).append(value)
            out[target] = {
                size: (float(np.nanmean(v)), float(np.nanstd(v)))
                for size, v in sorted(by_size.items())
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        record: dict[str, Any] = to_jsonable(
            {"records": self.records, "test": list(self.test), "targets": self.targets}
        )
        return record


def learning_curve(
    structures: Sequence[Atoms],
    model_config: ModelConfig,
    config: TrainConfig | None = None,
    *,
    sizes: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2),
    n_test: int | None = None,
    validation_fraction: float = 0.15 / 0.7,
) -> LearningCurve:
    """Train on training sets of several sizes, several seeds each (PAPER.md Fig. 4).

    One test set is held out once (``config.seed``); for each seed the rest is
    shuffled, the first ``size`` structures train and the next
    ``ceil(validation_fraction * size)`` serve for early stopping.

    Parameters
    ----------
    structures
        Labelled structures.
    model_config, config
        Model and training settings (``config.seed`` fixes the test set; each
        run uses its own seed for split, initialisation and batches).
    sizes
        Training-set sizes, each ≥ 1.
    seeds
        Seeds per size.
    n_test
        Size of the test set (default 15 % of the structures).
    validation_fraction
        Validation size relative to the training size (default 70:15).
    """
    config = TrainConfig() if config is None else config
    n = len(structures)
    if n == 0:
        raise ValueError("no structures for a learning curve (got an empty list)")
    n_test = round(config.fractions[2] * n) if n_test is None else int(n_test)
    if not sizes or not seeds:
        raise ValueError("sizes and seeds must not be empty")
    order = np.random.default_rng(config.seed).permutation(n).tolist()
    test, pool = tuple(order[:n_test]), order[n_test:]
    largest = max(sizes) + max(1, math.ceil(validation_fraction * max(sizes)))
    if min(sizes) < 1 or largest > len(pool):
        raise ValueError(
            f"sizes must be in [1, {len(pool)}] including their validation sets "
            f"(got sizes {list(sizes)} with {len(pool)} structures outside the test "
            "set)"
        )
    graphs = labelled_graphs(
        structures,
        model_config.targets,
        cutoff=model_config.cutoff,
        dtype=config.torch_dtype,
        progress=config.progress,
    )
    records = []
    runs = list(itertools.product(sizes, seeds))
    for size, seed in tqdm(runs, desc="learning curve", disable=not config.progress):
        shuffled = [pool[k] for k in np.random.default_rng(seed).permutation(len(pool))]
        n_val = max(1, math.ceil(validation_fraction * size))
        split = Split(
            tuple(shuffled[:size]), tuple(shuffled[size : size + n_val]), test
        )
        result = train(
            structures,
            model_config,
            config.replace(seed=seed, progress=False),
            split=split,
            graphs=graphs,
        )
        records.append(
            {
                "size": int(size),
                "seed": int(seed),
                "best_epoch": result.best_epoch,
                "metrics": result.metrics["test"],
            }
        )
    return LearningCurve(records, test, model_config.targets)


@dataclass(frozen=True)
class SweepResult:
    """Every run of a hyperparameter sweep, and the best on validation.

    Attributes
    ----------
    records
        One dict per run: ``params`` (the values changed), ``best_epoch``,
        ``validation_loss`` and ``metrics`` (all splits).
    best
        The :class:`TrainResult` of the run with the lowest validation loss;
        score it once on its test set (``best.metrics["test"]``).
    best_index
        Its index in ``records``.
    """

    records: list[dict[str, Any]]
    best: TrainResult
    best_index: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (without the model)."""
        record: dict[str, Any] = to_jsonable(
            {
                "records": self.records,
                "best_index": self.best_index,
                "best": self.best.to_dict(),
            }
        )
        return record


_MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
_TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def sweep(
    structures: Sequence[Atoms],
    model_config: ModelConfig,
    config: TrainConfig | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] = PAPER_GRID,
    models: Sequence[str] | None = PAPER_MODELS,
    split: Split | None = None,
) -> SweepResult:
    """Train every combination of a grid on one split; keep the best on validation.

    The paper's study is ``sweep(structures, ModelConfig(targets=(t,)))``
    with the defaults: :data:`PAPER_GRID` over :data:`PAPER_MODELS`, 480 runs.

    Parameters
    ----------
    structures
        Labelled structures.
    model_config, config
        Base settings; the grid overrides some of their fields.
    grid
        Field name -> values; names of :class:`ModelConfig` or
        :class:`TrainConfig` fields.
    models
        Model keys to sweep over (the ``model`` axis); None keeps
        ``model_config.model``.
    split
        The split of every run (default: ``config.make_split``).
    """
    config = TrainConfig() if config is None else config
    unknown = sorted(set(grid) - _MODEL_FIELDS - _TRAIN_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown sweep parameter(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted((_MODEL_FIELDS | _TRAIN_FIELDS) - {'model'}))}"
        )
    if len(structures) == 0:
        raise ValueError("no structures to sweep over (got an empty list)")
    axes = dict(grid)
    if models is not None:
        axes = {"model": tuple(models), **axes}
    if split is None:
        split = config.make_split(structures)
    names = list(axes)
    combos = list(itertools.product(*(axes[name] for name in names)))
    graph_cache: dict[tuple[Any, ...], Any] = {}
    records: list[dict[str, Any]] = []
    best: TrainResult | None = None
    best_index, best_loss = 0, math.inf
    for values in tqdm(combos, desc="sweep", disable=not config.progress):
        params = dict(zip(names, values, strict=True))
        m_config = model_config.replace(
            **{k: v for k, v in params.items() if k in _MODEL_FIELDS}
        )
        t_config = config.replace(
            progress=False, **{k: v for k, v in params.items() if k in _TRAIN_FIELDS}
        )
        key = (m_config.cutoff, t_config.dtype, m_config.targets)
        if key not in graph_cache:
            graph_cache[key] = labelled_graphs(
                structures,
                m_config.targets,
                cutoff=m_config.cutoff,
                dtype=t_config.torch_dtype,
            )
        result = train(
            structures, m_config, t_config, split=split, graphs=graph_cache[key]
        )
        loss = min((h["validation_loss"] for h in result.history), default=math.inf)
        records.append(
            {
                "params": params,
                "best_epoch": result.best_epoch,
                "validation_loss": loss,
                "metrics": result.metrics,
            }
        )
        if best is None or loss < best_loss:
            best, best_index, best_loss = result, len(records) - 1, loss
    if best is None:  # pragma: no cover - combos is never empty
        raise ValueError("the sweep grid is empty")
    return SweepResult(records, best, best_index)
