"""ExperimentConfig: the settings of the paper experiment, and the model presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ase_phonongnn import keys
from ase_phonongnn._config import check_integer, check_number
from ase_phonongnn.model import MODEL_KEYS, ModelConfig
from ase_phonongnn.train import TrainConfig

#: The two kinds of training data compared by the paper.
KINDS: Final = ("phonon", "random")
#: The paper's third kind, snapshots of MD, compared when a dataset is given.
MD_KIND: Final = "md"
#: Every kind, in the order of layouts, tables and figures.
ALL_KINDS: Final = (*KINDS, MD_KIND)
#: Position of each target in tables and figures: the usual order.
TARGET_ORDER: Final = {target: k for k, target in enumerate(keys.TARGETS)}
#: The test sets every learning-curve model is scored on with the paper's two
#: kinds (an MD dataset adds its own).
TEST_KINDS: Final = (*KINDS, "combined")

#: Hyperparameters of the paper's GraphConv models. The reference scripts of
#: the paper's data-size experiment (GNN-materials,
#: database-learning-effect) use ``model5`` (our ``paper-5``: 2 GraphConv
#: layers, max pooling, sigmoid output) with 128 hidden channels and dropout
#: 0.4; PAPER.md reports 1e-4 as one of the two best learning rates.
PAPER_HYPERPARAMETERS: Final = {"hidden_channels": 128, "dropout": 0.4}
PAPER_LEARNING_RATE: Final = 1e-4
#: ``ours``: the library defaults (3 interaction blocks of width 64, 8 Bessel
#: functions) and the CLI's default learning rate.
OURS_HYPERPARAMETERS: Final = {"hidden_channels": 64, "n_interactions": 3}
OURS_LEARNING_RATE: Final = 1e-3

#: The training-set sizes of the full run (log-spaced, 100 to 1,000).
FULL_SIZES: Final = (100, 200, 400, 700, 1000)
#: ``--quick``: a smoke run of a few minutes on real data.
QUICK: Final[dict[str, Any]] = {
    "sizes": (25, 50),
    "seeds": (0, 1),
    "max_epochs": 15,
    "patience": 10,
    "n_test": 25,
    "table_size": 50,
}

TableData = Literal["phonon", "random", "md", "combined"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Settings of the paper experiment (Fig. 4 and Table 1 of PAPER.md).

    Parameters
    ----------
    phonon, random
        The phonon-informed and the random dataset: snapshot stores (their
        ``done`` snapshots) or extxyz files, optionally gzip/xz/bz2-compressed.
    out
        Output directory (results.json, PNG figures, summary.txt).
    target
        Target of the learning curves (the paper: band gap).
    table_targets
        Targets of the Table-1 analog; targets without labels are skipped.
    sizes
        Training-set sizes of the learning curves; sizes that do not fit the
        data are clipped.
    seeds
        Seeds per size: each draws its own training and validation sets, weight
        initialisation and batch order.
    models
        Registry keys of the models compared (``paper-1`` ... ``paper-6``,
        ``ours``), each with its preset hyperparameters.
    n_test
        Size of the fixed held-out test set of each kind.
    validation_fraction
        Validation size relative to the training size (70:15 as the paper).
    table_data
        Training data of the Table-1 models: one kind or all (``combined``).
    table_size
        Largest training set of the Table-1 models (None: all the data
        outside the test sets that fits with its validation set).
    max_epochs, patience, batch_size
        Training budget, early stopping and batch size of every run. The
        paper trained 600 epochs in batches of 128; 200 epochs in batches of
        16 are 2.7 times as many optimiser steps, and a training set of 100
        still gets 7 steps per epoch instead of one.
    learning_rate
        Overrides the presets' learning rates when given.
    cutoff
        Graph radius in Å.
    test_seed
        Seed of the fixed test sets and of the Table-1 split.
    device
        ``cpu``, ``cuda`` or ``auto``.
    skip_retried
        Leave out structures whose SCF converged only on a damped rung of the
        labeller's retry ladder (another SCF solution on GFN2-xTB Ag3SBr:
        :func:`ase_phonongnn.train.load_structures`), as the shipped models do.
    md
        A dataset of MD snapshots (``phonongnn sample --method md``), the
        paper's third kind: trained on and tested on like the other two, with
        its own fixed test set (None: the paper's two kinds only).
    """

    phonon: Path
    random: Path
    out: Path
    target: str = keys.BAND_GAP
    table_targets: tuple[str, ...] = keys.TARGETS
    sizes: tuple[int, ...] = FULL_SIZES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    models: tuple[str, ...] = ("paper-5", "ours")
    n_test: int = 100
    validation_fraction: float = 0.15 / 0.7
    table_data: TableData = "combined"
    table_size: int | None = None
    max_epochs: int = 200
    patience: int = 40
    batch_size: int = 16
    learning_rate: float | None = None
    cutoff: float = 5.5
    test_seed: int = 0
    device: str = "cpu"
    skip_retried: bool = True
    md: Path | None = None

    def __post_init__(self) -> None:
        for name in ("phonon", "random", "out"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if self.md is not None:
            object.__setattr__(self, "md", Path(self.md))
        one_of: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("target", keys.TARGETS),
            ("table_data", (*self.kinds, "combined")),
        )
        for name, choices in one_of:
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"{name} must be one of {', '.join(choices)} "
                    f"(got {getattr(self, name)!r})"
                )
        distinct: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("table_targets", keys.TARGETS),
            ("models", MODEL_KEYS),
        )
        for name, choices in distinct:
            values = tuple(getattr(self, name))
            bad = [v for v in values if v not in choices]
            if bad or len(set(values)) != len(values):
                raise ValueError(
                    f"{name} must be distinct values from {', '.join(choices)} "
                    f"(got {list(values)})"
                )
            object.__setattr__(self, name, values)
        for name, minimum in (("sizes", 1), ("seeds", 0)):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"{name} must not be empty")
            for value in values:
                check_integer(value, name, minimum)
            object.__setattr__(self, name, tuple(sorted(set(values))))
        if not self.models:
            raise ValueError("models must not be empty; e.g. paper-5 ours")
        check_integer(self.n_test, "n_test", 1)
        check_integer(self.max_epochs, "max_epochs", 1)
        check_integer(self.patience, "patience", 1)
        check_integer(self.batch_size, "batch_size", 1)
        check_integer(self.test_seed, "test_seed", 0)
        if self.table_size is not None:
            check_integer(self.table_size, "table_size", 1)
        check_number(self.validation_fraction, "validation_fraction", positive=True)
        check_number(self.cutoff, "cutoff", positive=True)
        if self.learning_rate is not None:
            check_number(self.learning_rate, "learning_rate", positive=True)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of data compared: the paper's two, and ``md`` if given."""
        return KINDS if self.md is None else (*KINDS, MD_KIND)

    def dataset(self, kind: str) -> Path:
        """Return the path of the dataset of ``kind`` (one of :attr:`kinds`)."""
        path = getattr(self, kind)
        assert kind in self.kinds and path is not None, f"no {kind} dataset"
        return Path(path)

    def n_validation(self, size: int) -> int:
        """Return the validation size that goes with ``size`` training structures."""
        return max(1, math.ceil(self.validation_fraction * size))

    def model_config(self, model: str, target: str) -> ModelConfig:
        """Return the preset model ``model`` predicting one target."""
        preset = OURS_HYPERPARAMETERS if model == "ours" else PAPER_HYPERPARAMETERS
        return ModelConfig(model=model, targets=(target,), cutoff=self.cutoff, **preset)

    def train_config(self, model: str, seed: int = 0) -> TrainConfig:
        """Return the training settings of ``model`` (its preset learning rate)."""
        preset = OURS_LEARNING_RATE if model == "ours" else PAPER_LEARNING_RATE
        return TrainConfig(
            seed=seed,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate or preset,
            max_epochs=self.max_epochs,
            patience=self.patience,
            device=self.device,
            progress=False,
        )

    def setup(self) -> dict[str, Any]:
        """Return the settings results depend on (sizes, seeds and output excluded).

        A results file made with another setup cannot be resumed.
        """
        # the kinds only when MD is among them, so that results of the paper's
        # two kinds made before the third existed keep resuming
        kinds = {} if self.md is None else {"kinds": list(self.kinds)}
        return {
            **kinds,
            "target": self.target,
            "n_test": self.n_test,
            "validation_fraction": self.validation_fraction,
            "test_seed": self.test_seed,
            "table_data": self.table_data,
            "table_size": self.table_size,
            "skip_retried": self.skip_retried,
            "models": {
                model: {
                    "model_config": self.model_config(model, self.target).to_dict(),
                    "train_config": {
                        k: v
                        for k, v in self.train_config(model).to_dict().items()
                        if k not in ("seed", "progress", "device")
                    },
                }
                for model in self.models
            },
        }

    def replace(self, **changes: Any) -> ExperimentConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)
