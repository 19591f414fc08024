"""Metrics of any model, the shipped default or a committee, on labelled data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn.predict._batch import predict
from ase_phonongnn.predict._models import Committee, ModelSpec
from ase_phonongnn.train import regression_metrics, structure_labels


def evaluate(
    model: ModelSpec | Committee,
    structures: Sequence[Atoms],
    *,
    batch_size: int = 32,
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
        As for :func:`predict`: None or ``"default"`` (the shipped models), a
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
    if not structures:
        raise ValueError("no structures to evaluate")
    committee = model if isinstance(model, Committee) else Committee.load(model, device)
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
    metrics = {}
    for name in wanted:
        if name == keys.FORCES:
            true = np.concatenate([label[name] for label in labels])
            values = np.concatenate(list(predicted[name]))
        else:
            true = np.array([label[name] for label in labels])
            values = predicted[name]
        result = regression_metrics(true, values)
        if result["n"]:
            metrics[name] = result
    return metrics
