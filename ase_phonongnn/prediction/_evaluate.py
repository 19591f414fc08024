"""Metrics of any model on labelled data, and a committee's spread calibration."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.prediction._batch import predict
from ase_phonongnn.prediction._models import STD_SUFFIX, Committee, ModelSpec
from ase_phonongnn.train import regression_metrics, structure_labels


def evaluate(
    model: ModelSpec | Committee,
    structures: Sequence[Atoms],
    *,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Return MAE, RMSE, R² and n of a model's predictions on labelled structures.

    The values scored are the ones :func:`predict` gives (a committee's mean;
    a potential's hydrostatic stress as the trace of its stress), so this is
    the accuracy a user of the model sees, e.g. of the shipped committee on
    snapshots it never saw.

    Parameters
    ----------
    model
        As for :func:`predict`: None or a shipped model's name (``"gfn2-xtb"``), a
        path, a loaded model, or a sequence of them (a committee).
    structures
        Structures with labels in ``atoms.info`` (and ``atoms.arrays``), e.g.
        from :func:`ase_phonongnn.train.load_structures`.
    batch_size, device, progress
        As for :func:`predict`.

    Returns
    -------
    dict
        Per property the model gives and the structures are labelled with
        (targets, ``forces`` eV/Å, ``stress`` eV/Å³): ``mae``, ``rmse``, ``r2``
        and ``n`` (labels counted; unlabelled ones are skipped).
    """
    committee = model if isinstance(model, Committee) else Committee.load(model, device)
    pairs = _labelled_predictions(committee, structures, batch_size, progress)
    metrics = {}
    for name, (true, values, _) in pairs.items():
        result = regression_metrics(true, values)
        if result["n"]:
            metrics[name] = result
    return metrics


def calibrate_spread(
    model: ModelSpec | Committee,
    structures: Sequence[Atoms],
    *,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> dict[str, float]:
    """Return the factor per property that makes a committee's spread match its error.

    A committee of few members spreads less than it errs. On labelled
    structures it did not train on (its validation set), the factor
    α = √(⟨ε²⟩ / ⟨s²⟩) of each property (ε the error of the committee mean,
    s the members' standard deviation, averaged over structures, and over
    atoms and components for forces and stress) makes the mean squared
    scaled spread equal the mean squared error: the global rescaling of
    committee uncertainties of Musil et al., J. Chem. Theory Comput. 15, 906
    (2019), with the ratio of means in place of their likelihood fit, which
    a committee of two makes unstable. Pass the result to
    :class:`Committee` (``spread_scale``). It fixes the size of the error
    bars on average, not how well the spread ranks structures by error.

    Parameters
    ----------
    model
        A committee (two or more models) as for :func:`predict`.
    structures
        Labelled structures the members did not train on.
    batch_size, device, progress
        As for :func:`predict`.

    Returns
    -------
    dict
        α per labelled property the committee gives (targets, ``forces``,
        ``stress``).

    Raises
    ------
    ValueError
        If the model is a single model, or the members agree exactly.
    """
    committee = model if isinstance(model, Committee) else Committee.load(model, device)
    if committee.size < 2:
        raise ValueError("calibrating a spread needs a committee of two or more models")
    # the members' own spread, whatever scale the committee carries
    committee = Committee(committee.models, committee.sources)
    pairs = _labelled_predictions(committee, structures, batch_size, progress)
    scale = {}
    for name, (true, values, spread) in pairs.items():
        keep = np.isfinite(true)
        if not keep.any():
            continue
        mean_spread = float(np.mean(spread[keep] ** 2))
        if mean_spread == 0:
            raise ValueError(f"the members agree exactly on {name}: nothing to scale")
        error = float(np.mean((values[keep] - true[keep]) ** 2))
        scale[name] = float(np.sqrt(error / mean_spread))
    return scale


def _labelled_predictions(
    committee: Committee,
    structures: Sequence[Atoms],
    batch_size: int | None,
    progress: bool,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Labels, predictions and spreads (zero for one model) per property."""
    if not structures:
        raise ValueError("no structures to evaluate")
    wanted = [
        p
        for p in (*keys.TARGETS, keys.FORCES, keys.STRESS)
        if p in committee.properties
    ]
    predicted = predict(
        committee,
        structures,
        batch_size=batch_size,
        properties=wanted,
        progress=progress,
    )
    labels = [structure_labels(atoms) for atoms in structures]
    pairs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in wanted:
        spreads = predicted.get(name + STD_SUFFIX)
        if name == keys.FORCES:
            true = np.concatenate([label[name] for label in labels])
            values = np.concatenate(list(predicted[name]))
            if spreads is not None:
                spreads = np.concatenate(list(spreads))
        else:
            true = np.array([label[name] for label in labels])
            values = predicted[name]
        # forces (atoms, 3) and stress (structures, 6) keep their components,
        # whose own means R² measures against
        values = np.asarray(values, dtype=np.float64).reshape(true.shape)
        pairs[name] = (
            true,
            values,
            np.zeros(true.shape)
            if spreads is None
            else np.asarray(spreads).reshape(true.shape),
        )
    return pairs
