"""Models for prediction: devices, loading, and committee evaluation of batches.

:class:`Committee` is what both :func:`~ase_phonongnn.prediction.predict` and
:class:`~ase_phonongnn.calculator.PhononGNNCalc` evaluate: one model or
several, each turned into the ASE properties it can give, averaged over the
members, with their spread as ``<property>_std``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeAlias

import numpy as np
import torch
from ase import Atoms
from ase.data import chemical_symbols
from numpy.typing import NDArray
from torch_geometric.data import Data

from ase_phonongnn import keys
from ase_phonongnn.graph import build_graph, build_graphs
from ase_phonongnn.label.labels import hydrostatic_stress
from ase_phonongnn.model import (
    GraphModel,
    PotentialGNN,
    is_model_name,
    load_model,
    models_covering,
    named_model,
)
from ase_phonongnn.model._io import resolve_dtype
from ase_phonongnn.model._manifest import named_member
from ase_phonongnn.prediction._errors import (
    DeviceUnavailableError,
    UnsupportedElementError,
    UnsupportedStructureError,
)

#: Every property prediction can give, in output order (ASE names and units:
#: energy eV, forces eV/Å, stress Voigt-6 eV/Å³, hydrostatic stress GPa).
PROPERTIES: Final = (
    keys.ENERGY,
    keys.FREE_ENERGY,
    keys.ENERGY_PER_ATOM,
    keys.FORCES,
    keys.STRESS,
    keys.BAND_GAP,
    keys.VBM,
    keys.HYDROSTATIC_STRESS,
)
#: Per-atom properties, (n_atoms, 3) per structure: :data:`ase_phonongnn.keys.PER_ATOM`.
PER_ATOM: Final = keys.PER_ATOM
#: Suffix of the committee spread of a property.
STD_SUFFIX: Final = "_std"
#: What ``model`` may be: None or the name of a shipped model ("gfn2-xtb",
#: "default"), a path, a loaded model, or a sequence of paths and models (a
#: committee).
ModelSpec: TypeAlias = (
    str
    | os.PathLike[str]
    | GraphModel
    | Sequence[str | os.PathLike[str] | GraphModel]
    | None
)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``device``.

    Parameters
    ----------
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``, or a :class:`torch.device`.

    Raises
    ------
    DeviceUnavailableError
        If CUDA is asked for and this machine has no (such) CUDA device.
    ValueError
        For any other string.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(
            f"device must be a string or torch.device (got {type(device).__name__})"
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2]
        if index and not index.isdigit():
            raise ValueError(f"device must be cuda or cuda:N (got {device!r})")
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device={device!r} asks for a GPU, but torch finds no CUDA device "
                f"on this machine (torch {torch.__version__}, CUDA build "
                f"{torch.version.cuda or 'none'}); use device='cpu', or 'auto' to "
                "take a GPU only when there is one"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} "
                "CUDA device(s), numbered from 0"
            )
        return torch.device(name)
    raise ValueError(f"device must be auto, cpu, cuda or cuda:N (got {device!r})")


def load_models(
    model: ModelSpec,
    device: torch.device,
    dtype: str | torch.dtype | None = None,
) -> tuple[list[GraphModel], list[str]]:
    """Return the models named by ``model`` on ``device``, in eval mode.

    Parameters
    ----------
    model
        None or the name of a shipped model (``"gfn2-xtb"``; ``"default"`` is
        its alias; :func:`ase_phonongnn.model.model_names`), its members
        checked against the manifest (:func:`ase_phonongnn.model.named_model`);
        a path to a saved
        model; a loaded :class:`~ase_phonongnn.model.GraphModel` (moved to
        ``device`` and put in eval mode); or a non-empty sequence of these, a
        committee.
    device
        Where the models go.
    dtype
        ``"float32"`` or ``"float64"``: every model is converted to it (a
        loaded model in place); None (default) keeps each model's own dtype,
        float32 for the shipped models
        (:func:`~ase_phonongnn.model.load_model`).

    Returns
    -------
    models, sources
        The models and, for each, its path or a description.

    Raises
    ------
    FileNotFoundError
        If a model file does not exist.
    ModelFormatError
        If a file is not a readable model, or a shipped one does not match the
        manifest (:class:`~ase_phonongnn.errors.ModelManifestError`).
    """
    floating = resolve_dtype(dtype)
    if is_model_name(model):
        members: list[Any] = list(named_model(model).members)
    elif isinstance(model, str | os.PathLike | GraphModel):
        members = [model]
    elif isinstance(model, Sequence):
        members = list(model)
        if not members:
            raise ValueError(
                "model is an empty sequence; give a model path, a loaded model, "
                "or several of them for a committee"
            )
    else:
        raise TypeError(
            "model must be None, a shipped model's name, a path, a GraphModel or a "
            f"sequence of them (got {type(model).__name__})"
        )
    models, sources = [], []
    for position, member in enumerate(members):
        if isinstance(member, GraphModel):
            models.append(member.to(device=device, dtype=floating).eval())
            sources.append(f"<{type(member).__name__} {member.config.model!r}>")
        elif isinstance(member, str | os.PathLike):
            shipped = named_member(member) if isinstance(member, str) else None
            path = shipped or Path(member)
            if not path.is_file():
                raise FileNotFoundError(
                    f"no model file at {path}; give a model saved by "
                    "'phonongnn train --out MODEL' (or save_model()), or 'gfn2-xtb' "
                    "for the shipped model"
                )
            models.append(load_model(path, device=device, dtype=floating))
            sources.append(str(path))
        else:
            raise TypeError(
                f"model[{position}] must be a path or a GraphModel "
                f"(got {type(member).__name__})"
            )
    return models, sources


def model_properties(model: GraphModel) -> tuple[str, ...]:
    """Return the properties of :data:`PROPERTIES` that ``model`` gives.

    ``energy`` and ``free_energy`` (equal: the models carry no electronic
    entropy) come with ``energy_per_atom``; ``forces`` and ``stress`` with an
    energy head (a potential); ``hydrostatic_stress`` from the stress of a
    potential (tr σ / 3, as labelled: consistent with the predicted stress,
    and on held-out Ag3SBr snapshots more accurate than a σh head), else
    from the model's own head.
    """
    targets = set(model.targets)
    found = set(targets & set(PROPERTIES))
    if keys.ENERGY_PER_ATOM in targets:
        found |= {keys.ENERGY, keys.FREE_ENERGY}
    if model.has_energy:
        found |= {keys.FORCES, keys.STRESS, keys.HYDROSTATIC_STRESS}
    return tuple(p for p in PROPERTIES if p in found)


def formula(atoms: Atoms) -> str:
    """Return the chemical formula of ``atoms`` (e.g. ``Ag3BrS``)."""
    return str(atoms.get_chemical_formula())


def _symbol(z: int) -> str:
    return chemical_symbols[z] if 0 < z < len(chemical_symbols) else f"Z={z}"


class Committee:
    """One model or several, evaluated together on batches of structures.

    Every property is the mean over the members; with more than one member
    ``<property>_std`` is their standard deviation (population, ``ddof=0``:
    zero for identical members), times the property's ``spread_scale``.
    Members may differ in cutoff, dtype and targets; the committee gives the
    properties that all members give and takes the elements that all members
    know.

    Parameters
    ----------
    models
        Loaded models, all on one device.
    sources
        A description of each model (its path), for provenance.
    spread_scale
        Factor per property on the members' standard deviation, e.g. from
        :func:`~ase_phonongnn.prediction.calibrate_spread` (few members spread
        less than they err); ``energy`` and ``free_energy`` take the factor
        of ``energy_per_atom`` unless given. Default 1.
    compile_messages
        Sum the PaiNN messages of the ``ours`` members with kernels compiled
        by ``torch.compile`` (their ``compiled_messages``): the same results
        to rounding and a higher throughput on a CPU (measured on the
        documentation's performance page), after a first evaluation that
        compiles for tens of seconds (a C++ compiler must be installed).
        Default False.
    """

    def __init__(
        self,
        models: Sequence[GraphModel],
        sources: Sequence[str],
        spread_scale: Mapping[str, float] | None = None,
        *,
        compile_messages: bool = False,
    ) -> None:
        if not models:
            raise ValueError("a committee needs at least one model")
        if len(sources) != len(models):
            raise ValueError("give one source per model")
        scale = {str(k): float(v) for k, v in (spread_scale or {}).items()}
        unknown = sorted(set(scale) - set(PROPERTIES))
        if unknown or not all(np.isfinite(v) and v > 0 for v in scale.values()):
            raise ValueError(
                "spread_scale takes positive factors for properties of "
                f"{', '.join(PROPERTIES)} (got {spread_scale})"
            )
        if keys.ENERGY_PER_ATOM in scale:
            for name in (keys.ENERGY, keys.FREE_ENERGY):
                scale.setdefault(name, scale[keys.ENERGY_PER_ATOM])
        self.spread_scale = scale
        self.models = list(models)
        self.sources = tuple(str(s) for s in sources)
        self.device = next(self.models[0].parameters()).device
        for member in self.models[1:]:
            if next(member.parameters()).device != self.device:
                raise ValueError("all committee members must be on one device")
        common = set(PROPERTIES)
        species = set(self.models[0].species)
        for member in self.models:
            common &= set(model_properties(member))
            species &= set(member.species)
        self.properties: tuple[str, ...] = tuple(p for p in PROPERTIES if p in common)
        self.species: tuple[int, ...] = tuple(sorted(species))
        for member in self.models:
            if isinstance(member, PotentialGNN):
                member.compiled_messages = bool(compile_messages)
        # members that share a graph radius and dtype share their graphs
        self._groups: dict[tuple[float, torch.dtype], list[GraphModel]] = {}
        for member in self.models:
            dtype = next(member.parameters()).dtype
            self._groups.setdefault((member.cutoff, dtype), []).append(member)

    @classmethod
    def load(
        cls,
        model: ModelSpec = None,
        device: str | torch.device = "auto",
        spread_scale: Mapping[str, float] | None = None,
        dtype: str | torch.dtype | None = None,
        *,
        compile_messages: bool = False,
    ) -> Committee:
        """Load the models named by ``model`` in ``dtype`` (see :func:`load_models`).

        Without ``spread_scale``, a shipped committee named by ``model``
        comes with the scales fitted on its validation set
        (:attr:`ase_phonongnn.model.NamedModel.spread_scale`), other models
        with none.
        """
        models, sources = load_models(model, resolve_device(device), dtype)
        if spread_scale is None and is_model_name(model):
            spread_scale = named_model(model).spread_scale
        return cls(models, sources, spread_scale, compile_messages=compile_messages)

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.models)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Properties and, for a committee, their ``_std`` spreads."""
        if self.size == 1:
            return self.properties
        return (*self.properties, *(p + STD_SUFFIX for p in self.properties))

    def check_properties(self, properties: Iterable[str] | None) -> tuple[str, ...]:
        """Return the requested properties in output order (None: all).

        Raises
        ------
        ValueError
            If a property is unknown or not given by every member.
        """
        if properties is None:
            return self.properties
        if isinstance(properties, str):
            properties = [properties]
        wanted = [str(p) for p in properties]
        missing = [p for p in wanted if p not in self.properties]
        if missing:
            raise ValueError(
                f"propert{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(map(repr, missing))} not given by "
                f"{'this model' if self.size == 1 else 'every committee member'}; "
                f"available: {', '.join(self.properties)}"
            )
        return tuple(p for p in self.properties if p in wanted)

    def check_structure(self, atoms: Atoms, where: str = "atoms") -> None:
        """Raise if the models cannot take ``atoms``.

        Raises
        ------
        TypeError
            If it is not an ``ase.Atoms``.
        UnsupportedStructureError
            If it is empty, not periodic in three directions, has a
            degenerate cell or non-finite positions.
        UnsupportedElementError
            If it has an element that a model does not know.
        """
        if not isinstance(atoms, Atoms):
            raise TypeError(
                f"{where} must be an ase.Atoms (got {type(atoms).__name__})"
            )
        if len(atoms) == 0:
            raise UnsupportedStructureError(f"{where} has no atoms")
        volume = abs(float(np.linalg.det(atoms.cell.array)))
        if not atoms.pbc.all() or volume < 1e-6:
            raise UnsupportedStructureError(
                f"{where} ({formula(atoms)}) is not a 3D-periodic "
                f"crystal (pbc={atoms.pbc.tolist()}, cell volume {volume:.3g} Å^3); "
                "the models describe bulk crystals: give it its full 3x3 cell and "
                "set atoms.pbc = True"
            )
        if not (np.isfinite(atoms.positions).all() and np.isfinite(volume)):
            raise UnsupportedStructureError(
                f"{where} ({formula(atoms)}) has non-finite positions or cell (NaN "
                "or inf), as a diverged MD run or relaxation leaves them; restart "
                "from its last finite structure"
            )
        unknown = sorted(set(atoms.numbers.tolist()) - set(self.species))
        if unknown:
            owner = "this model's" if self.size == 1 else "the committee's common"
            covering = models_covering({_symbol(z) for z in set(atoms.numbers)})
            shipped = (
                f" (shipped: {', '.join(repr(n) for n in covering)})"
                if covering
                else ""
            )
            raise UnsupportedElementError(
                f"element {', '.join(_symbol(z) for z in unknown)} of {where} "
                f"({formula(atoms)}) is not in {owner} species "
                f"({', '.join(_symbol(z) for z in self.species)}); use a model "
                f"trained on data that contain it{shipped}"
            )

    def evaluate(
        self, structures: Sequence[Atoms], properties: Collection[str]
    ) -> dict[str, NDArray[np.float64]]:
        """Predict properties of a batch of structures.

        Parameters
        ----------
        structures
            Checked structures (:meth:`check_structure`), evaluated together.
        properties
            Properties from :attr:`properties`; the per-structure scalars of
            the models are always included.

        Returns
        -------
        dict
            Float64 arrays: scalars (B,), ``stress`` (B, 6), ``forces``
            (n_atoms_total, 3) with the atoms of the structures in order, and
            ``<property>_std`` of the same shapes for a committee.
        """
        wanted = set(properties)
        n_atoms = np.array([len(a) for a in structures], dtype=np.int64)
        members: list[dict[str, NDArray[np.float64]]] = []
        for (cutoff, dtype), models in self._groups.items():
            # one graph goes in as it is: the model treats it as a batch of one
            batch = (
                build_graph(structures[0], cutoff=cutoff, dtype=dtype)
                if len(structures) == 1
                else build_graphs(structures, cutoff=cutoff, dtype=dtype)
            ).to(self.device)
            for member in models:
                members.append(self._member(member, batch, n_atoms, wanted))
        names = [p for p in self.properties if all(p in m for m in members)]
        if self.size == 1:
            return {p: members[0][p] for p in names}
        out: dict[str, NDArray[np.float64]] = {}
        for p in names:
            stack = np.stack([m[p] for m in members])
            out[p] = stack.mean(axis=0)
            out[p + STD_SUFFIX] = stack.std(axis=0) * self.spread_scale.get(p, 1.0)
        return out

    def _member(
        self,
        model: GraphModel,
        batch: Data,
        n_atoms: NDArray[np.int64],
        wanted: set[str],
    ) -> dict[str, NDArray[np.float64]]:
        provides = set(model_properties(model))
        forces = keys.FORCES in wanted and keys.FORCES in provides
        # a potential's σh is the trace of its stress, never its head's
        stress = keys.STRESS in provides and bool(
            {keys.STRESS, keys.HYDROSTATIC_STRESS} & wanted
        )
        # inference mode (no autograd bookkeeping at all) when nothing is
        # differentiated; forces and stress need autograd inside the model
        context = torch.no_grad() if forces or stress else torch.inference_mode()
        with context:
            raw = model(batch, compute_forces=forces, compute_stress=stress)
        values = {
            k: v.detach().to("cpu", torch.float64).numpy() for k, v in raw.items()
        }
        out: dict[str, NDArray[np.float64]] = {}
        for name in model.targets:
            out[name] = values[name]
        if keys.ENERGY_PER_ATOM in values:
            energy = values.get(keys.ENERGY)
            if energy is None:
                energy = values[keys.ENERGY_PER_ATOM] * n_atoms
            out[keys.ENERGY] = energy
            out[keys.FREE_ENERGY] = energy
        if forces:
            out[keys.FORCES] = values[keys.FORCES]
        if stress:
            out[keys.STRESS] = values[keys.STRESS]
            out[keys.HYDROSTATIC_STRESS] = hydrostatic_stress(values[keys.STRESS])
        return out
