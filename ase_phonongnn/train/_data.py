"""Labelled structures from stores and extxyz files, and their graphs."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import ase.io
import numpy as np
import torch
from ase import Atoms
from numpy.typing import NDArray
from torch_geometric.data import Data

from ase_phonongnn import keys
from ase_phonongnn.data import resolve_dataset
from ase_phonongnn.graph import build_graph
from ase_phonongnn.label.labels import hydrostatic_stress

_STORE_SUFFIXES = (".h5", ".hdf5")
_EXTXYZ_SUFFIXES = (".extxyz", ".xyz")


def retried_scf(atoms: Atoms) -> bool:
    """Whether the labels of a structure came from a later rung of an SCF retry ladder.

    The labeller records the SCF settings that converged
    (``label_provenance["scf_settings"]["retry_rung"]``, see
    :data:`ase_phonongnn.label.xtb.RETRY_LADDER`); rung 0 is the default.
    """
    provenance = atoms.info.get(keys.LABEL_PROVENANCE) or {}
    settings = provenance.get("scf_settings") or {}
    return int(settings.get("retry_rung", 0)) > 0


def load_structures(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    skip_retried: bool = False,
) -> list[Atoms]:
    """Read labelled structures from snapshot stores and extxyz files.

    Parameters
    ----------
    paths
        One path or several: ``.h5``/``.hdf5`` snapshot stores (their ``done``
        snapshots), names of shipped datasets
        (:data:`ase_phonongnn.data.DATASETS`) and ``.extxyz``/``.xyz`` files
        with labels in ``atoms.info`` (or as ASE calculator results).
    skip_retried
        Leave out the structures whose SCF converged only on a later rung of
        the labeller's retry ladder (:func:`retried_scf`). On GFN2-xTB Ag3SBr
        these lie on another SCF solution than their neighbours: scaling the
        displacements of such a 600 K snapshot by 0.90, 0.95, 0.98, 1.00 and
        1.02 gave σh −5.72, −5.59, −4.88, −5.00, −5.15 GPa and band gaps
        1.75, 1.54, 1.22, 1.18, 1.14 eV, a jump of 0.6 GPa and 0.2 eV
        between 0.95 (converged on the default rung, and on the damped rungs
        to the same solution) and 0.98 (the default rung fails); the 12 of
        944 phonon-informed snapshots labelled so had σh up to 7.8 standard
        deviations from their temperature's mean. No smooth model can follow
        such a jump from a handful of examples.

    Returns
    -------
    list of Atoms
        In the order of the paths and of each file.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ValueError
        If a suffix is not supported, or no labelled structure is found.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    sources = [resolve_dataset(p) for p in paths]
    if not sources:
        raise ValueError("no input files given; pass stores (.h5) or .extxyz files")
    structures: list[Atoms] = []
    for source in sources:
        if not source.is_file():
            raise FileNotFoundError(f"no such file: {source}")
        suffix = source.suffix.lower()
        if suffix in _STORE_SUFFIXES:
            from ase_phonongnn.store import SnapshotStore

            structures += SnapshotStore.open(source).read_atoms(status=keys.DONE)
        elif suffix in _EXTXYZ_SUFFIXES:
            structures += list(ase.io.iread(source, index=":", format="extxyz"))
        else:
            raise ValueError(
                f"cannot read {source}: expected a snapshot store "
                f"({', '.join(_STORE_SUFFIXES)}) or extxyz "
                f"({', '.join(_EXTXYZ_SUFFIXES)}) file"
            )
    if skip_retried:
        structures = [atoms for atoms in structures if not retried_scf(atoms)]
    if not structures:
        names = ", ".join(str(s) for s in sources)
        raise ValueError(
            f"no labelled structures in {names}; label the snapshots first "
            "(phonongnn label) or check that the store has 'done' snapshots"
        )
    return structures


def structure_labels(atoms: Atoms) -> dict[str, Any]:
    """Return the labels of a structure, NaN for those it does not have.

    Labels are taken from ``atoms.info`` (and ``atoms.arrays["forces"]``),
    else from the results an attached calculator already holds (never
    computed here). ``energy_per_atom`` is derived from ``energy`` and
    ``hydrostatic_stress`` from ``stress`` when only those are given.

    Returns
    -------
    dict
        Scalars for :data:`ase_phonongnn.keys.TARGETS` and ``energy`` (NaN if
        absent), ``stress`` (6,) eV/Å³ and ``forces`` (n, 3) eV/Å (NaN-filled
        if absent).
    """
    results = dict(getattr(atoms.calc, "results", None) or {})
    n = len(atoms)

    def scalar(key: str) -> float:
        value = atoms.info.get(key, results.get(key))
        try:
            return float(value) if value is not None else float("nan")
        except (TypeError, ValueError):
            return float("nan")

    labels: dict[str, Any] = {key: scalar(key) for key in (*keys.TARGETS, keys.ENERGY)}
    stress = atoms.info.get(keys.STRESS, results.get(keys.STRESS))
    stress_array = _voigt(stress)
    forces = atoms.arrays.get(keys.FORCES, results.get(keys.FORCES))
    forces_array = np.full((n, 3), np.nan)
    if forces is not None and np.shape(forces) == (n, 3):
        forces_array = np.asarray(forces, dtype=np.float64)
    if not np.isfinite(labels[keys.ENERGY_PER_ATOM]) and np.isfinite(
        labels[keys.ENERGY]
    ):
        labels[keys.ENERGY_PER_ATOM] = labels[keys.ENERGY] / n
    if (
        not np.isfinite(labels[keys.HYDROSTATIC_STRESS])
        and np.isfinite(stress_array).all()
    ):
        labels[keys.HYDROSTATIC_STRESS] = float(hydrostatic_stress(stress_array))
    labels[keys.STRESS] = stress_array
    labels[keys.FORCES] = forces_array
    return labels


def _voigt(stress: Any) -> NDArray[np.float64]:
    if stress is None:
        return np.full(6, np.nan)
    array = np.asarray(stress, dtype=np.float64)
    if array.shape == (3, 3):
        return array[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    if array.shape == (6,):
        return array
    return np.full(6, np.nan)


def labelled_graphs(
    structures: Iterable[Atoms],
    targets: Sequence[str],
    *,
    cutoff: float,
    dtype: torch.dtype = torch.float32,
    progress: bool = False,
) -> list[Data]:
    """Return the graphs of structures with their labels attached.

    Each graph from :func:`~ase_phonongnn.graph.build_graph` gets ``y``
    (1, T) in the order of ``targets``, ``forces`` (n, 3) eV/Å and ``stress``
    (1, 6) eV/Å³, NaN where a label is missing.
    """
    from tqdm.auto import tqdm

    graphs = []
    for atoms in tqdm(list(structures), desc="graphs", disable=not progress):
        labels = structure_labels(atoms)
        graph = build_graph(atoms, cutoff=cutoff, dtype=dtype)
        graph.y = torch.tensor([[labels[t] for t in targets]], dtype=dtype)
        graph.forces = torch.tensor(labels[keys.FORCES], dtype=dtype)
        graph.stress = torch.tensor(labels[keys.STRESS], dtype=dtype).unsqueeze(0)
        graphs.append(graph)
    return graphs


def dataset_digest(structures: Iterable[Atoms]) -> str:
    """Return a SHA-256 of the structures and their labels, in order."""
    digest = hashlib.sha256()
    for atoms in structures:
        labels = structure_labels(atoms)
        for array in (
            atoms.numbers.astype(np.int64),
            np.asarray(atoms.positions, dtype=np.float64),
            np.asarray(atoms.cell.array, dtype=np.float64),
            np.asarray([labels[k] for k in keys.TARGETS], dtype=np.float64),
            labels[keys.FORCES],
            labels[keys.STRESS],
        ):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
