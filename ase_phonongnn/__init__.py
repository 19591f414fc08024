"""ase_phonongnn: phonon-informed thermal snapshots and graph neural networks.

The flow is sample -> label -> store -> graph -> train -> prediction / explain.
Public names are imported lazily so that ``import ase_phonongnn`` stays light
and never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ase_phonongnn._version import __version__

_LAZY = {
    "PhononSampler": "ase_phonongnn.sample",
    "thermal_amplitudes": "ase_phonongnn.sample",
    "to_phonopy_dataset": "ase_phonongnn.sample",
    "label_snapshots": "ase_phonongnn.label",
    "SnapshotStore": "ase_phonongnn.store",
    "build_graph": "ase_phonongnn.graph",
    "ModelConfig": "ase_phonongnn.model",
    "load_model": "ase_phonongnn.model",
    "save_model": "ase_phonongnn.model",
    "TrainConfig": "ase_phonongnn.train",
    "evaluate_model": "ase_phonongnn.train",
    "learning_curve": "ase_phonongnn.train",
    "sweep": "ase_phonongnn.train",
    "predict": "ase_phonongnn.prediction",
    "iter_predictions": "ase_phonongnn.prediction",
    "write_predictions": "ase_phonongnn.prediction",
    "thermal_averages": "ase_phonongnn.prediction",
    "block_average": "ase_phonongnn.prediction",
    "time_averages": "ase_phonongnn.prediction",
    "PhononGNNCalc": "ase_phonongnn.calculator",
    "ExplainConfig": "ase_phonongnn.explain",
    "EdgeImportance": "ase_phonongnn.explain",
    "explain_prediction": "ase_phonongnn.explain",
    "explain_dataset": "ase_phonongnn.explain",
    "aggregate_bond_types": "ase_phonongnn.explain",
    "deletion_curve": "ase_phonongnn.explain",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from ase_phonongnn.calculator import PhononGNNCalc  # noqa: F401
    from ase_phonongnn.explain import (  # noqa: F401
        EdgeImportance,
        ExplainConfig,
        aggregate_bond_types,
        deletion_curve,
        explain_dataset,
        explain_prediction,
    )
    from ase_phonongnn.graph import build_graph  # noqa: F401
    from ase_phonongnn.label import label_snapshots  # noqa: F401
    from ase_phonongnn.model import ModelConfig, load_model, save_model  # noqa: F401
    from ase_phonongnn.prediction import (  # noqa: F401
        block_average,
        iter_predictions,
        predict,
        thermal_averages,
        time_averages,
        write_predictions,
    )
    from ase_phonongnn.sample import (  # noqa: F401
        PhononSampler,
        thermal_amplitudes,
        to_phonopy_dataset,
    )
    from ase_phonongnn.store import SnapshotStore  # noqa: F401
    from ase_phonongnn.train import (  # noqa: F401
        TrainConfig,
        evaluate_model,
        learning_curve,
        sweep,
    )


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ase_phonongnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
