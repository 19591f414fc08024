"""The closed registry of models: key -> class, never an import path."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import torch

from ase_phonongnn.model._base import GraphModel
from ase_phonongnn.model._config import MODEL_KEYS, ModelConfig
from ase_phonongnn.model._ours import PotentialGNN
from ase_phonongnn.model._paper import PAPER_ARCHITECTURES, PaperGraphConv

#: Model key -> class. Saved models name their key; nothing else is loadable.
MODELS: Final[Mapping[str, type[GraphModel]]] = MappingProxyType(
    {"ours": PotentialGNN} | dict.fromkeys(PAPER_ARCHITECTURES, PaperGraphConv)
)
if tuple(MODELS) != MODEL_KEYS:  # pragma: no cover - a programming error
    raise ImportError("the model registry and MODEL_KEYS disagree")


def build_model(
    config: ModelConfig,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> GraphModel:
    """Return a new, untrained model for ``config``.

    Parameters
    ----------
    config
        Hyperparameters; ``config.species`` must be set.
    seed
        Seed of the weight initialisation. The global torch RNG is left as it
        was.
    dtype
        Floating dtype of parameters and buffers.
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"config must be a ModelConfig (got {type(config).__name__})")
    cls = MODELS[config.model]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.to(dtype)
