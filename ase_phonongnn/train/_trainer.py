"""train(): fit a registered model to labelled structures."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from ase import Atoms
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader
from tqdm.auto import tqdm

from ase_phonongnn import keys
from ase_phonongnn._json import to_jsonable
from ase_phonongnn.errors import UnknownElementError
from ase_phonongnn.label.labels import hydrostatic_stress
from ase_phonongnn.model import GraphModel, ModelConfig, build_model
from ase_phonongnn.model._base import spread
from ase_phonongnn.train._config import TrainConfig
from ase_phonongnn.train._data import dataset_digest, labelled_graphs
from ase_phonongnn.train._metrics import regression_metrics
from ase_phonongnn.train._split import Split

#: Names of the splits in metrics and predictions.
SPLITS = ("train", "validation", "test")

Metrics = dict[str, dict[str, dict[str, float]]]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes
    ----------
    model
        The model with the weights of the best validation epoch, in eval mode.
    model_config, train_config
        The resolved configurations (species filled in from the data).
    split
        Indices of the structures in each set.
    metrics
        ``metrics[split][name]`` = ``{"mae", "rmse", "r2", "n"}`` for each
        target, and ``forces`` / ``stress`` when the model and data have them.
    history
        One dict per epoch: ``epoch``, ``train_loss``, ``validation_loss``,
        ``learning_rate``, ``seconds`` (since the start).
    best_epoch
        Epoch (from 1) whose weights were kept.
    predictions
        ``predictions[split][target]`` = (labels, predictions), arrays (n,).
    data_digest
        SHA-256 of the structures and labels trained on (all splits).
    """

    model: GraphModel
    model_config: ModelConfig
    train_config: TrainConfig
    split: Split
    metrics: Metrics
    history: list[dict[str, float]]
    best_epoch: int
    predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(repr=False)
    data_digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready record (configs, split, metrics, history)."""
        return {
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "split": self.split.to_dict(),
            "metrics": to_jsonable(self.metrics),
            "history": to_jsonable(self.history),
            "best_epoch": self.best_epoch,
            "data_digest": self.data_digest,
        }


def resolve_species(
    structures: Sequence[Atoms], config: ModelConfig, *, fine_tuning: bool = False
) -> ModelConfig:
    """Return ``config`` with ``species`` set from the data when empty.

    Raises
    ------
    UnknownElementError
        If the data contain an element outside a given ``species``; the
        message says what to do, for a new model or one being fine-tuned.
    """
    found = sorted({int(z) for atoms in structures for z in atoms.numbers})
    if not config.species:
        return config.replace(species=tuple(found))
    extra = sorted(set(found) - set(config.species))
    if extra:
        from ase.data import chemical_symbols

        advice = (
            "a fine-tuned model keeps its elements, so train a new model "
            "(no start_from)"
            if fine_tuning
            else "add them or leave species empty"
        )
        raise UnknownElementError(
            "the data contain element(s) "
            f"{', '.join(chemical_symbols[z] for z in extra)} that are not in "
            f"the model species {config.species}; {advice}"
        )
    return config


def train(
    structures: Sequence[Atoms],
    model_config: ModelConfig,
    config: TrainConfig | None = None,
    *,
    split: Split | Mapping[str, Sequence[int]] | None = None,
    graphs: Sequence[Data] | None = None,
    start_from: GraphModel | None = None,
) -> TrainResult:
    """Train a model on labelled structures.

    Targets are scaled as the model defines (:meth:`GraphModel.fit_normalisation`,
    fitted on the training set). The loss is the mean squared error of every
    target divided by its training spread, plus, when the model is a
    potential and the data have them, ``force_weight`` times the mean squared
    force error over the mean squared training force and ``stress_weight``
    times the mean squared stress error over the variance of all training
    stress components together. That variance includes the offset between
    the diagonal and the off-diagonal components (the mean pressure): on the
    Ag3SBr stores the scale is 2.6 times the components' fluctuation about
    their own means. Scaling by that fluctuation instead (a 7 times heavier
    stress term) was measured side by side on them and did not help (see
    the documentation's Ag3SBr findings). With ``config.balance_by`` every
    group of structures has its errors scaled by its own training spreads
    instead. Adam; early stopping on the validation loss; the best
    validation weights are kept.

    Parameters
    ----------
    structures
        Labelled structures (labels in ``atoms.info``, see
        :func:`~ase_phonongnn.train.structure_labels`).
    model_config
        The model to train; empty ``species`` are taken from the data.
    config
        Training settings (default :class:`TrainConfig()`).
    split
        Indices of the train/validation/test structures; default the split
        by ``config.fractions`` that ``config.split_by`` names.
    graphs
        The labelled graphs of ``structures`` if already built (as
        :func:`~ase_phonongnn.train.labelled_graphs` makes them, with the
        model's cutoff, targets and dtype); saves rebuilding them in sweeps.
        With ``config.balance_by`` each gets its group number as
        ``loss_group``.
    start_from
        Fine-tune a trained model (e.g. a member of the shipped committee,
        ``load_model("gfn2-xtb:0")``) instead of training a fresh
        one: a copy starts from its weights and keeps its target scaling, so
        its first predictions are those of ``start_from``, which is left
        unchanged. ``model_config`` must be ``start_from.config``.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        If there are no structures, too few for a split, a target has no
        label in the training set, or ``start_from`` has another config.
    UnknownElementError
        If an element is outside ``model_config.species``.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(model_config, ModelConfig):
        raise TypeError(
            f"model_config must be a ModelConfig (got {type(model_config).__name__})"
        )
    if len(structures) == 0:
        raise ValueError(
            "no structures to train on (got an empty list); label snapshots "
            "first or check the input files"
        )
    model_config = resolve_species(
        structures, model_config, fine_tuning=start_from is not None
    )
    if start_from is not None and start_from.config != model_config:
        raise ValueError(
            "start_from was built with another ModelConfig than model_config "
            f"({start_from.config} != {model_config}); pass start_from.config "
            "as model_config"
        )
    if split is None:
        split = config.make_split(structures)
    elif not isinstance(split, Split):
        split = Split.from_dict(split)
    split.check(len(structures))
    device, dtype = config.torch_device, config.torch_dtype
    if graphs is None:
        graphs = labelled_graphs(
            structures,
            model_config.targets,
            cutoff=model_config.cutoff,
            dtype=dtype,
            progress=config.progress,
        )
    n_groups = 1
    if config.balance_by is not None:
        groups = _loss_groups(structures, config.balance_by)
        n_groups = max(groups) + 1
        for graph, group in zip(graphs, groups, strict=True):
            graph.loss_group = torch.tensor([group])
    sets = {name: [graphs[i] for i in getattr(split, name)] for name in SPLITS}
    _check_labels(sets["train"], model_config.targets)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        if start_from is None:
            model = build_model(model_config, seed=config.seed, dtype=dtype)
            model.fit_normalisation(sets["train"])
        else:
            model = copy.deepcopy(start_from).to(dtype=dtype)
            model.train()
        model.to(device)
        loss_fn = _Loss(model, sets["train"], config, n_groups)
        history, best_epoch = _fit(model, loss_fn, sets, config)
    model.eval()
    predictions = {name: predict_graphs(model, sets[name]) for name in SPLITS}
    metrics = {
        name: graph_metrics(model, sets[name], predictions[name]) for name in SPLITS
    }
    return TrainResult(
        model=model,
        model_config=model_config,
        train_config=config,
        split=split,
        metrics=metrics,
        history=history,
        best_epoch=best_epoch,
        predictions={
            name: {
                t: (_labels(sets[name], k), predictions[name][t])
                for k, t in enumerate(model.targets)
            }
            for name in SPLITS
        },
        data_digest=dataset_digest(structures),
    )


def _check_labels(train_graphs: Sequence[Data], targets: Sequence[str]) -> None:
    labels = torch.cat([g.y for g in train_graphs]).double()
    for k, target in enumerate(targets):
        if not bool(torch.isfinite(labels[:, k]).any()):
            raise ValueError(
                f"no training structure has a {target!r} label; choose targets the "
                "data have (labels are read from atoms.info)"
            )


def _loss_groups(structures: Sequence[Atoms], key: str) -> list[int]:
    """Return each structure's group number by its ``atoms.info[key]``."""
    missing = [i for i, atoms in enumerate(structures) if key not in atoms.info]
    if missing:
        raise ValueError(
            f"balance_by={key!r}: {len(missing)} structures have no such "
            f"atoms.info entry (first: index {missing[0]}); choose a key every "
            "structure has, such as 'method'"
        )
    values = [str(atoms.info[key]) for atoms in structures]
    names = {name: k for k, name in enumerate(sorted(set(values)))}
    return [names[value] for value in values]


class _Loss:
    """Scaled squared errors of targets, forces and stress.

    Scales are per loss group (one group, the pooled training set, unless
    ``config.balance_by`` is set); a group with too few values to measure a
    scale (two labels of a target, one structure's forces or stress) keeps
    the pooled one.
    """

    def __init__(
        self,
        model: GraphModel,
        train_graphs: Sequence[Data],
        config: TrainConfig,
        n_groups: int = 1,
    ) -> None:
        self.targets = model.targets
        pooled = _Scales.of(train_graphs, model.label_scale.detach().cpu())
        # NaN: no training structure has all force (stress) components
        self.use_forces = (
            model.has_energy
            and config.force_weight > 0
            and not math.isnan(pooled.force)
        )
        self.use_stress = (
            model.has_energy
            and config.stress_weight > 0
            and not math.isnan(pooled.stress)
        )
        self.force_weight = config.force_weight
        self.stress_weight = config.stress_weight
        self.balanced = config.balance_by is not None
        groups = [pooled]
        if self.balanced:
            members: dict[int, list[Data]] = {}
            for graph in train_graphs:
                members.setdefault(int(graph.loss_group), []).append(graph)
            groups = [
                _Scales.of(members[k], None).or_else(pooled) if k in members else pooled
                for k in range(n_groups)
            ]
        device, dtype = model.label_scale.device, model.label_scale.dtype
        self.target_scale = torch.stack([g.targets for g in groups]).to(device, dtype)
        self.force_scale = torch.tensor([g.force for g in groups]).to(device, dtype)
        self.stress_scale = torch.tensor([g.stress for g in groups]).to(device, dtype)

    def __call__(self, model: GraphModel, batch: Batch) -> Tensor:
        out = model(
            batch, compute_forces=self.use_forces, compute_stress=self.use_stress
        )
        group = (
            batch.loss_group
            if self.balanced
            else torch.zeros(batch.num_graphs, dtype=torch.long, device=batch.y.device)
        )
        predicted = torch.stack([out[t] for t in self.targets], dim=1)
        error = (predicted - batch.y) / self.target_scale[group]
        terms = [_masked_mse(error, by_column=True)]
        if self.use_forces:
            scale = self.force_scale[group[batch.batch]].unsqueeze(1)
            error = (out[keys.FORCES] - batch.forces) / scale
            terms.append(self.force_weight * _masked_mse(error))
        if self.use_stress:
            error = (out[keys.STRESS] - batch.stress) / self.stress_scale[group, None]
            terms.append(self.stress_weight * _masked_mse(error))
        return torch.stack(terms).sum()


@dataclass(frozen=True)
class _Scales:
    """Loss scales of one group: target spreads, rms force, stress spread.

    NaN marks a target the group has fewer than two finite labels of, or
    forces or stress it has none of.
    """

    targets: Tensor
    force: float
    stress: float

    @classmethod
    def of(cls, graphs: Sequence[Data], target_scale: Tensor | None) -> _Scales:
        """Return the scales of graphs; ``target_scale`` overrides the spreads."""
        nan = float("nan")
        if target_scale is None:
            labels = torch.cat([g.y for g in graphs]).double().numpy()
            target_scale = torch.tensor(
                [_spread_or_nan(column) for column in labels.T], dtype=torch.float64
            )
        forces = torch.cat([g.forces for g in graphs]).double()
        forces = forces[torch.isfinite(forces).all(dim=1)]
        stress = torch.cat([g.stress for g in graphs]).double()
        stress = stress[torch.isfinite(stress).all(dim=1)]
        rms_force = float(forces.pow(2).mean().sqrt()) if len(forces) else nan
        return cls(
            target_scale.double(),
            1.0 if rms_force <= 1e-12 else rms_force,
            spread(stress.numpy()) if len(stress) else nan,
        )

    def or_else(self, pooled: _Scales) -> _Scales:
        """Return these scales with the NaN ones taken from ``pooled``."""
        return _Scales(
            torch.where(torch.isnan(self.targets), pooled.targets, self.targets),
            pooled.force if math.isnan(self.force) else self.force,
            pooled.stress if math.isnan(self.stress) else self.stress,
        )


def _spread_or_nan(values: np.ndarray) -> float:
    """Return :func:`spread` of the finite values, NaN for fewer than two."""
    return spread(values) if np.isfinite(values).sum() > 1 else float("nan")


def _masked_mse(error: Tensor, by_column: bool = False) -> Tensor:
    """Mean square of the finite entries (per column, then averaged)."""
    mask = torch.isfinite(error)
    squared = torch.where(mask, error, torch.zeros_like(error)).pow(2)
    if not by_column:
        return squared.sum() / mask.sum().clamp(min=1)
    counts = mask.sum(dim=0)
    per_column = squared.sum(dim=0) / counts.clamp(min=1)
    present = counts > 0
    return per_column[present].mean() if bool(present.any()) else squared.sum()


def _fit(
    model: GraphModel,
    loss_fn: _Loss,
    sets: Mapping[str, Sequence[Data]],
    config: TrainConfig,
) -> tuple[list[dict[str, float]], int]:
    device = config.torch_device
    generator = torch.Generator().manual_seed(config.seed)
    loader = DataLoader(
        list(sets["train"]),
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
    )
    validation = [b.to(device) for b in _batches(sets["validation"], 64)]
    optimiser = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = None
    if config.lr_decay_patience > 0 and config.lr_decay_factor < 1:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, factor=config.lr_decay_factor, patience=config.lr_decay_patience
        )
    best = math.inf
    best_state = copy.deepcopy(model.state_dict())
    best_epoch, stale = 0, 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    bar = tqdm(
        range(1, config.max_epochs + 1),
        desc=f"train {model.config.model}",
        disable=not config.progress,
        leave=False,
    )
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            batch = batch.to(device)
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model, batch)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        model.eval()
        with torch.no_grad():
            val_total = sum(float(loss_fn(model, b)) * b.num_graphs for b in validation)
        val_loss = val_total / max(1, sum(b.num_graphs for b in validation))
        if scheduler is not None:
            scheduler.step(val_loss)
        elapsed = time.perf_counter() - start
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(count, 1),
                "validation_loss": val_loss,
                "learning_rate": optimiser.param_groups[0]["lr"],
                "seconds": elapsed,
            }
        )
        bar.set_postfix(train=f"{total / max(count, 1):.3g}", val=f"{val_loss:.3g}")
        if val_loss < best:
            best, best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if not math.isfinite(val_loss) and not math.isfinite(best):
            break
        if stale >= config.patience:
            break
        if config.max_time is not None and elapsed > config.max_time:
            break
    bar.close()
    model.load_state_dict(best_state)
    return history, best_epoch


def _batches(graphs: Sequence[Data], size: int) -> list[Batch]:
    return [
        Batch.from_data_list(list(graphs[k : k + size]))
        for k in range(0, len(graphs), size)
    ]


def predict_graphs(
    model: GraphModel,
    graphs: Sequence[Data],
    *,
    batch_size: int = 32,
    forces: bool | None = None,
) -> dict[str, np.ndarray]:
    """Predict every output of a model for graphs, batched.

    Parameters
    ----------
    model
        A trained model (put in eval mode here).
    graphs
        From :func:`~ase_phonongnn.graph.build_graph` with the model's cutoff.
    batch_size
        Graphs per forward pass.
    forces
        Also predict forces and stress (default: when the model is a
        potential).

    Returns
    -------
    dict
        Per target (n_graphs,); with forces ``forces`` (n_atoms_total, 3) and
        ``stress`` (n_graphs, 6). With the stress, ``hydrostatic_stress`` is
        its trace / 3, as :func:`~ase_phonongnn.prediction.predict` gives it.
    """
    model.eval()
    derivatives = model.has_energy if forces is None else forces
    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for batch in _batches(graphs, batch_size):
            out = model(
                batch.to(device),
                compute_forces=derivatives,
                compute_stress=derivatives,
            )
            for name, value in out.items():
                parts.setdefault(name, []).append(value.double().cpu().numpy())
    if not parts:
        return {t: np.zeros(0) for t in model.targets}
    out = {name: np.concatenate(values) for name, values in parts.items()}
    if keys.STRESS in out and keys.HYDROSTATIC_STRESS in out:
        # what prediction gives: a potential's σh is the trace of its stress
        out[keys.HYDROSTATIC_STRESS] = hydrostatic_stress(out[keys.STRESS])
    return out


def _labels(graphs: Sequence[Data], column: int) -> np.ndarray:
    if not graphs:
        return np.zeros(0)
    return torch.cat([g.y[:, column] for g in graphs]).double().cpu().numpy()


def graph_metrics(
    model: GraphModel,
    graphs: Sequence[Data],
    predictions: Mapping[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Return MAE/RMSE/R²/n per target (and forces, stress) on labelled graphs."""
    predictions = predict_graphs(model, graphs) if predictions is None else predictions
    result = {
        target: regression_metrics(_labels(graphs, k), predictions[target])
        for k, target in enumerate(model.targets)
    }
    if graphs and keys.FORCES in predictions:
        true_forces = torch.cat([g.forces for g in graphs]).double().numpy()
        if np.isfinite(true_forces).any():
            result[keys.FORCES] = regression_metrics(
                true_forces, predictions[keys.FORCES]
            )
        true_stress = torch.cat([g.stress for g in graphs]).double().numpy()
        if np.isfinite(true_stress).any():
            result[keys.STRESS] = regression_metrics(
                true_stress, predictions[keys.STRESS]
            )
    return result


def evaluate_model(
    model: GraphModel,
    structures: Sequence[Atoms],
    *,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Return MAE, RMSE, R² and n per target of a model on labelled structures.

    Parameters
    ----------
    model
        A trained model (e.g. from :func:`~ase_phonongnn.model.load_model`).
    structures
        Structures with labels in ``atoms.info``; unlabelled targets give
        ``n = 0`` and NaN metrics.
    batch_size
        Structures per forward pass.
    progress
        Show a progress bar while building graphs.

    Returns
    -------
    dict
        ``{target: {"mae", "rmse", "r2", "n"}}`` in target units, plus
        ``forces`` (eV/Å) and ``stress`` (eV/Å³) for potentials on data with
        them.
    """
    if len(structures) == 0:
        raise ValueError("no structures to evaluate (got an empty list)")
    dtype = next(model.parameters()).dtype
    graphs = labelled_graphs(
        structures, model.targets, cutoff=model.cutoff, dtype=dtype, progress=progress
    )
    predictions = predict_graphs(model, graphs, batch_size=batch_size)
    return graph_metrics(model, graphs, predictions)
