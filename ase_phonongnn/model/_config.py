"""ModelConfig: the hyperparameters that fully define an untrained model."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ase.data import chemical_symbols

from ase_phonongnn import keys
from ase_phonongnn._config import config_from_dict

#: Keys of the closed model registry, in display order.
MODEL_KEYS: Final = (
    "ours",
    "paper-1",
    "paper-2",
    "paper-3",
    "paper-4",
    "paper-5",
    "paper-6",
)

#: Pooling of the intensive heads of ``ours`` (:attr:`ModelConfig.readout`).
READOUTS: Final = ("mean", "attention", "levels", "tight-binding")

#: Norms of the vector features of ``ours`` (:attr:`ModelConfig.vector_norm`).
VECTOR_NORMS: Final = ("smooth", "sharp")

#: Pair repulsions that ``ours`` can add to its energy
#: (:attr:`ModelConfig.repulsion`).
REPULSIONS: Final = ("none", "zbl")

#: Values that fields added after models were first saved take when a saved
#: config lacks them: the behaviour of the code that wrote the file.
_SAVED_DEFAULTS: Final = {"vector_norm": "sharp", "repulsion": "none"}


@dataclass(frozen=True)
class ModelConfig:
    r"""Hyperparameters of a model; saved with it and enough to rebuild it.

    Parameters
    ----------
    model
        Registry key: ``"ours"`` (:class:`~ase_phonongnn.model.PotentialGNN`)
        or ``"paper-1"`` ... ``"paper-6"``
        (:class:`~ase_phonongnn.model.PaperGraphConv`).
    targets
        Per-structure targets predicted, from :data:`ase_phonongnn.keys.TARGETS`.
    species
        Atomic numbers the model knows, sorted; empty means "not yet known"
        (training fills it from the data). A model cannot be built without it.
    cutoff
        Graph radius in Å.
    hidden_channels
        Width of the node features in message passing.
    dropout
        Dropout probability before the readout layers, in [0, 1).
    n_interactions
        ``ours`` only: number of message-passing blocks.
    n_radial
        ``ours`` only: number of Bessel radial basis functions.
    envelope_exponent
        ``ours`` only: exponent p of the polynomial cutoff envelope (smooth
        to order p - 1 at the cutoff).
    equivariant
        ``ours`` only: PaiNN blocks with vector features, which see bond
        directions and angles
        (:class:`~ase_phonongnn.model.EquivariantInteraction`), instead of
        distance-only continuous-filter convolutions (default False; models
        saved before this option read as False).
    readout
        ``ours`` only: how the atomic outputs of the intensive heads
        (``band_gap``, ``vbm``, ``hydrostatic_stress``) become one value per
        structure: ``"mean"`` over the atoms (default; models saved before
        this option read as it) or ``"attention"``, a softmax-weighted mean
        whose weights are learned per atom and target, which can follow the
        most distorted environments that set the band edges, or ``"levels"``:
        several atomic outputs per target, each averaged over the atoms, of
        which the value is a smooth maximum minus another (a band edge as the
        highest of several split levels; :class:`PotentialGNN`), or
        ``"tight-binding"``: the mean plus the highest eigenvalue of one
        learned Γ-point tight-binding Hamiltonian of the cell minus that of
        another (:class:`TightBindingReadout`), whose levels split linearly
        with the bond lengths.
    vector_norm
        ``ours`` with ``equivariant`` only: how the update block turns the
        vector features into the invariant that it feeds to its MLP:
        ``"smooth"`` (default), :math:`\sqrt{\lVert\vec v\rVert^2 + 1} - 1`,
        a smooth function of the vector whose second derivative is at most 1,
        or ``"sharp"``, :math:`\sqrt{\lVert\vec v\rVert^2 + 10^{-8}}`, the
        norm with a cusp where the vector vanishes (at sites where symmetry
        makes it zero, such as every site of the ideal cubic
        antiperovskite): there the forces are not linear in small
        displacements and finite-difference phonons depend on the step.
        Models saved before this option read as ``"sharp"``
        (:meth:`from_saved`), and predict as they did.
    repulsion
        ``ours`` only: ``"none"`` (default; models saved before this option
        read as it) or ``"zbl"``, the Ziegler-Biersack-Littmark screened
        nuclear repulsion of every pair of atoms, switched off smoothly at
        the sum of their covalent radii, added to the energy
        (:class:`~ase_phonongnn.model.ZBLRepulsion`): it keeps atoms apart
        where the training data never brought them.
    """

    model: str = "ours"
    targets: tuple[str, ...] = (keys.ENERGY_PER_ATOM,)
    species: tuple[int, ...] = ()
    cutoff: float = 5.5
    hidden_channels: int = 64
    dropout: float = 0.0
    n_interactions: int = 3
    n_radial: int = 8
    envelope_exponent: int = 6
    equivariant: bool = False
    readout: str = "mean"
    vector_norm: str = "smooth"
    repulsion: str = "none"

    def __post_init__(self) -> None:
        if self.model not in MODEL_KEYS:
            raise ValueError(
                f"model must be one of {', '.join(MODEL_KEYS)} (got {self.model!r})"
            )
        targets = _as_tuple(self.targets, "targets")
        if not targets:
            raise ValueError(
                "targets is empty; give at least one of " + ", ".join(keys.TARGETS)
            )
        unknown = [t for t in targets if t not in keys.TARGETS]
        if unknown:
            raise ValueError(
                f"unknown target(s) {', '.join(map(repr, unknown))} in targets; "
                f"valid: {', '.join(keys.TARGETS)}"
            )
        if len(set(targets)) != len(targets):
            raise ValueError(f"targets has duplicates (got {list(targets)})")
        object.__setattr__(self, "targets", tuple(str(t) for t in targets))
        species = _as_tuple(self.species, "species")
        numbers = []
        for z in species:
            if isinstance(z, str) and z in chemical_symbols[1:]:
                z = chemical_symbols.index(z)
            if isinstance(z, bool) or not isinstance(z, int) or not 0 < z < 119:
                raise ValueError(
                    f"species must hold atomic numbers 1-118 or symbols (got {z!r})"
                )
            numbers.append(int(z))
        object.__setattr__(self, "species", tuple(sorted(set(numbers))))
        _positive_float(self.cutoff, "cutoff", unit=" Å")
        _positive_int(self.hidden_channels, "hidden_channels")
        _positive_int(self.n_interactions, "n_interactions")
        _positive_int(self.n_radial, "n_radial")
        _positive_int(self.envelope_exponent, "envelope_exponent")
        if not isinstance(self.equivariant, bool):
            raise TypeError(
                f"equivariant must be True or False (got {self.equivariant!r})"
            )
        if self.readout not in READOUTS:
            raise ValueError(
                f"readout must be one of {', '.join(READOUTS)} (got {self.readout!r})"
            )
        if self.vector_norm not in VECTOR_NORMS:
            raise ValueError(
                f"vector_norm must be one of {', '.join(VECTOR_NORMS)} "
                f"(got {self.vector_norm!r})"
            )
        if self.repulsion not in REPULSIONS:
            raise ValueError(
                f"repulsion must be one of {', '.join(REPULSIONS)} "
                f"(got {self.repulsion!r})"
            )
        dropout = float(self.dropout)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout})")
        object.__setattr__(self, "dropout", dropout)
        object.__setattr__(self, "cutoff", float(self.cutoff))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Build from a dict; unknown keys are refused with the valid ones."""
        config: ModelConfig = config_from_dict(cls, data)
        return config

    @classmethod
    def from_saved(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Build the config of a saved model from its dict.

        Like :meth:`from_dict`, except that fields the file's writer did not
        know take the value that reproduces its model (``vector_norm``:
        ``"sharp"``, ``repulsion``: ``"none"``), not today's default for new
        models.
        """
        if not isinstance(data, Mapping):
            return cls.from_dict(data)
        return cls.from_dict({**_SAVED_DEFAULTS, **data})

    def replace(self, **changes: Any) -> ModelConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _as_tuple(value: Any, name: str) -> tuple[Any, ...]:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence (got {type(value).__name__})"
        ) from None


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer (got {value!r})")


def _positive_float(value: Any, name: str, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number{unit} (got {value!r})")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite{unit} (got {value!r})")
