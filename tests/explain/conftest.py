"""Models trained on a label that depends on Cu-Au distances only."""

from __future__ import annotations

import pytest
import torch
from _alloys import AB_CUTOFF, cu_au_alloys

from ase_phonongnn import keys
from ase_phonongnn.model import ModelConfig
from ase_phonongnn.train import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="session")
def alloys():
    """96 training and 8 held-out Cu/Au cells (see tests/_alloys.py)."""
    return {"train": cu_au_alloys(96, seed=0), "explain": cu_au_alloys(8, seed=99)}


@pytest.fixture(scope="session")
def alloy_models(alloys):
    """``ours`` and ``paper-2`` trained on one thread, about 5 s each.

    On the 8 held-out cells: ``ours`` R² 0.89, ``paper-2`` R² -0.56 (a poor
    model, as the paper's GraphConv family is on this label).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reproducible sums; faster on shared cores
    try:
        models = {}
        for key in ("ours", "paper-2"):
            config = ModelConfig(
                model=key,
                targets=(keys.BAND_GAP,),
                cutoff=AB_CUTOFF,
                hidden_channels=16,
                n_interactions=2,
                n_radial=6,
            )
            settings = TrainConfig(
                batch_size=8,
                learning_rate=5e-3,
                max_epochs=60,
                patience=60,
                progress=False,
                seed=0,
            )
            models[key] = train(alloys["train"], config, settings).model
    finally:
        torch.set_num_threads(threads)
    return models


@pytest.fixture(scope="session")
def explained(alloys, alloy_models):
    """Explanations of the held-out cells, computed once per (model, method)."""
    from ase_phonongnn.explain import explain_dataset

    cache = {}

    def get(key: str, method: str):
        if (key, method) not in cache:
            cache[key, method] = explain_dataset(
                alloy_models[key], alloys["explain"], method=method, seed=0
            )
        return cache[key, method]

    return get
