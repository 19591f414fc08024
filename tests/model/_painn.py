"""Untrained PaiNN potentials of Ag3SBr for the tests of the model's physics."""

from __future__ import annotations

from typing import Any

import torch

from ase_phonongnn import keys
from ase_phonongnn.model import ModelConfig, build_model

#: graph radius of :func:`random_painn`, Å (that of the shipped models)
CUTOFF = 5.5


def random_painn(seed: int = 1, **changes: Any) -> torch.nn.Module:
    """Return a seeded float64 energy-only PaiNN ``ours`` for S, Br and Ag.

    16 channels, 2 blocks, cutoff :data:`CUTOFF`; ``changes`` are further
    :class:`~ase_phonongnn.model.ModelConfig` fields.
    """
    config = ModelConfig(
        targets=(keys.ENERGY_PER_ATOM,),
        species=(16, 35, 47),
        cutoff=CUTOFF,
        hidden_channels=16,
        n_interactions=2,
        equivariant=True,
        **changes,
    )
    return build_model(config, seed=seed, dtype=torch.float64).eval()
