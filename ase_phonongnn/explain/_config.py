"""ExplainConfig: how edge importances are computed and when an edge counts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ase_phonongnn._config import check_integer, check_number, config_from_dict

Method = Literal["gnnexplainer", "integrated-gradients"]

#: Explanation methods, in display order.
METHODS: Final = ("gnnexplainer", "integrated-gradients")

#: Scaled importance above which an edge is significant (PAPER.md,
#: "Explainability").
SIGNIFICANCE_THRESHOLD: Final = 0.86


@dataclass(frozen=True)
class ExplainConfig:
    """Settings of an explanation.

    Parameters
    ----------
    method
        ``"gnnexplainer"``: PyTorch Geometric's GNNExplainer (Ying et al.,
        NeurIPS 2019) learns a soft mask over the edges that keeps the
        prediction with as few edges as possible, as the paper did; random
        initialisation, hence the seed. ``"integrated-gradients"``
        (Sundararajan et al., ICML 2017): the path integral of the gradient of
        the prediction with respect to a multiplicative edge mask, from all
        edges removed to all present; deterministic.
    seed
        Seed of GNNExplainer's mask initialisation (the global torch RNG is
        left as it was). Integrated gradients use no random numbers.
    threshold
        Scaled importance above which an edge is significant, in [0, 1].
    epochs
        GNNExplainer: optimisation steps of the mask.
    learning_rate
        GNNExplainer: Adam learning rate of the mask.
    edge_size
        GNNExplainer: weight of the penalty on the sum of the mask (PyG's
        ``edge_size`` coefficient), per edge; larger values give sparser
        masks.
    edge_entropy
        GNNExplainer: weight of the penalty on the mask's entropy (PyG's
        ``edge_ent``), which pushes each value towards 0 or 1.
    n_steps
        Integrated gradients: Gauss-Legendre points of the path integral.
    steps_per_batch
        Integrated gradients: path points evaluated in one batched forward
        pass (memory against speed).
    """

    method: Method = "gnnexplainer"
    seed: int = 0
    threshold: float = SIGNIFICANCE_THRESHOLD
    epochs: int = 100
    learning_rate: float = 0.01
    edge_size: float = 0.005
    edge_entropy: float = 1.0
    n_steps: int = 32
    steps_per_batch: int = 16

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"method must be one of {', '.join(METHODS)} (got {self.method!r})"
            )
        check_integer(self.seed, "seed", minimum=0)
        check_number(self.threshold, "threshold")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(
                "threshold is a scaled importance and must be in [0, 1] "
                f"(got {self.threshold}); the paper uses {SIGNIFICANCE_THRESHOLD}"
            )
        check_integer(self.epochs, "epochs", minimum=1)
        check_number(self.learning_rate, "learning_rate", positive=True)
        check_number(self.edge_size, "edge_size")
        check_number(self.edge_entropy, "edge_entropy")
        check_integer(self.n_steps, "n_steps", minimum=1)
        check_integer(self.steps_per_batch, "steps_per_batch", minimum=1)
        for name in ("threshold", "learning_rate", "edge_size", "edge_entropy"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExplainConfig:
        """Build from a dict; unknown keys are refused with the valid ones."""
        return config_from_dict(cls, data)

    def replace(self, **changes: Any) -> ExplainConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
