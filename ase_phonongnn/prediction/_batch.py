"""Batched prediction over structures, trajectory files and snapshot stores."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sized
from pathlib import Path
from typing import Any, Final, TypeAlias

import numpy as np
import torch
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn._config import keyword_config
from ase_phonongnn.prediction._config import PredictionConfig
from ase_phonongnn.prediction._models import (
    PER_ATOM,
    STD_SUFFIX,
    Committee,
    ModelSpec,
)

#: Structures to predict: one ``Atoms``, an iterable of them, or a file (any
#: trajectory ``ase.io`` reads, or a snapshot store ``.h5``).
StructureSource: TypeAlias = Atoms | Iterable[Atoms] | str | os.PathLike[str]
#: Suffixes read as snapshot stores.
STORE_SUFFIXES: Final = (".h5", ".hdf5")
#: Atoms per batch when ``batch_size`` is None, by device type; a larger
#: structure goes alone. On one CPU thread the shipped member's throughput
#: with forces and stress peaks at 32 frames of 40 atoms and is within 15 %
#: of it from 8 to 64 (``benchmarks/bench_shipped.py``); the CUDA figure
#: is not measured yet (``benchmarks/bench_gpu.py``).
ATOMS_PER_BATCH: Final = {"cpu": 1280, "cuda": 16384}


def read_structures(
    source: StructureSource,
    *,
    index: str | int | slice = ":",
    format: str | None = None,
) -> Iterator[Atoms]:
    """Yield the structures of ``source`` one at a time.

    Parameters
    ----------
    source
        An ``Atoms``; an iterable of them (yielded as they come); or a file:
        a snapshot store (``.h5``/``.hdf5``: every snapshot, with its labels
        and status in ``atoms.info``) or anything ``ase.io.iread`` reads
        (extxyz, ASE ``.traj``, VASP ``XDATCAR``, LAMMPS ``dump`` ...).
    index
        Frames of a file to read, as ``ase.io.read`` takes them (``":"`` all,
        ``"::10"`` every tenth, ``-1`` the last).
    format
        ``ase.io`` format name when the file name does not tell it (e.g.
        ``"lammps-dump-text"``).

    Notes
    -----
    Files are read lazily: a frame is parsed when it is needed, so memory
    does not grow with the length of the file, for stores and for the
    formats whose ``ase.io`` reader streams (extxyz, traj, LAMMPS dump).
    ASE 3.29 parses a whole VASP XDATCAR before yielding its first frame.
    """
    if isinstance(source, Atoms):
        yield source
        return
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no structure file at {path}")
        if format is None and path.suffix.lower() in STORE_SUFFIXES:
            yield from _read_store(path, index)
            return
        import ase.io

        yield from ase.io.iread(path, index=index, format=format)
        return
    if not isinstance(source, Iterable):
        raise TypeError(
            "structures must be an Atoms, an iterable of Atoms or a file path "
            f"(got {type(source).__name__})"
        )
    yield from source


def _read_store(path: Path, index: str | int | slice) -> Iterator[Atoms]:
    from ase.io.formats import string2index  # type: ignore[attr-defined]

    from ase_phonongnn.store import SnapshotStore

    selection = string2index(index) if isinstance(index, str) else index
    if isinstance(selection, str):
        raise ValueError(f"index must be an integer or a slice (got {index!r})")
    with SnapshotStore.open(path) as store:
        rows = range(len(store))
        if isinstance(selection, int):
            yield store[rows[selection]]
            return
        chosen = rows[selection]
        if len(chosen) == 0:
            return
        if chosen.step < 0:
            for row in chosen:
                yield store[row]
            return
        # the store reads in blocks when iterated: stream and pick the rows
        for row, atoms in enumerate(store):
            if row in chosen:
                yield atoms
            if row >= chosen[-1]:
                return


def _committee(
    model: ModelSpec | Committee,
    device: str | torch.device,
    dtype: str | torch.dtype | None = None,
    compile_messages: bool = False,
) -> Committee:
    if isinstance(model, Committee):
        if dtype is not None or compile_messages:
            raise ValueError(
                "dtype and compile_messages apply to the models that predict "
                "loads; a Committee is already loaded: pass dtype to "
                "Committee.load instead (compile_messages too)"
            )
        return model
    return Committee.load(model, device, dtype=dtype, compile_messages=compile_messages)


def _batches(
    frames: Iterator[Atoms], batch_size: int | None, atoms_per_batch: int
) -> Iterator[list[Atoms]]:
    """Yield lists of frames: ``batch_size`` each, or by atoms if it is None.

    By atoms, a batch takes frames while their atoms stay within
    ``atoms_per_batch``; a frame larger than that makes a batch of its own.
    """
    if batch_size is not None:
        while block := list(itertools.islice(frames, batch_size)):
            yield block
        return
    chunk: list[Atoms] = []
    count = 0
    for atoms in frames:
        size = len(atoms) if isinstance(atoms, Atoms) else 1
        if chunk and count + size > atoms_per_batch:
            yield chunk
            chunk, count = [], 0
        chunk.append(atoms)
        count += size
    if chunk:
        yield chunk


def iter_predictions(
    model: ModelSpec | Committee,
    structures: StructureSource,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    properties: Iterable[str] | None = None,
    progress: bool = False,
    index: str | int | slice = ":",
    format: str | None = None,
    dtype: str | torch.dtype | None = None,
    config: PredictionConfig | None = None,
) -> Iterator[tuple[Atoms, dict[str, Any]]]:
    """Yield ``(atoms, results)`` for every structure, evaluated in batches.

    Structures are read and evaluated a batch at a time (``batch_size``
    structures, or by atoms), so memory is bounded by the batch, whatever
    the number of structures. Arguments as in
    :func:`predict`; ``config`` holds batch size, device, properties, dtype
    and progress instead of their keywords.

    Yields
    ------
    atoms, results
        The structure and a dict: scalars as ``float``, ``stress`` (6,) and
        ``forces`` (n_atoms, 3) as float64 arrays, and ``<property>_std`` of
        the same shapes for a committee.
    """
    config = keyword_config(
        PredictionConfig,
        config,
        {
            "batch_size": batch_size,
            "device": device,
            "properties": properties,
            "dtype": dtype,
            "progress": progress,
        },
    )
    size, progress = config.batch_size, config.progress
    committee = _committee(model, config.device, config.dtype, config.compile_messages)
    wanted = committee.check_properties(config.properties)
    names = [
        name
        for name in committee.output_names
        if name.removesuffix(STD_SUFFIX) in wanted
    ]
    frames = read_structures(structures, index=index, format=format)
    total = len(structures) if isinstance(structures, Sized) else None
    from tqdm.auto import tqdm

    # The bar opens once the first chunk passed the structure checks, so that
    # a bad input fails with its error alone, without an empty bar above it.
    bar = None
    count = 0
    atoms_per_batch = ATOMS_PER_BATCH.get(committee.device.type, ATOMS_PER_BATCH["cpu"])
    try:
        for chunk in _batches(frames, size, atoms_per_batch):
            for offset, atoms in enumerate(chunk):
                committee.check_structure(atoms, f"structure {count + offset}")
            if bar is None:
                bar = tqdm(
                    total=total, desc="predict", unit="frame", disable=not progress
                )
            out = committee.evaluate(chunk, wanted)
            starts = np.concatenate([[0], np.cumsum([len(a) for a in chunk])])
            for k, atoms in enumerate(chunk):
                results: dict[str, Any] = {}
                for name in names:
                    value = out[name]
                    if name.removesuffix(STD_SUFFIX) in PER_ATOM:
                        results[name] = value[starts[k] : starts[k + 1]].copy()
                    elif value.ndim > 1:
                        results[name] = value[k].copy()
                    else:
                        results[name] = float(value[k])
                yield atoms, results
            count += len(chunk)
            bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()


def predict(
    model: ModelSpec | Committee,
    structures: StructureSource,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    properties: Iterable[str] | None = None,
    progress: bool = False,
    attach: bool = False,
    index: str | int | slice = ":",
    format: str | None = None,
    dtype: str | torch.dtype | None = None,
    config: PredictionConfig | None = None,
) -> dict[str, NDArray[Any]]:
    """Predict properties of many structures, batched.

    Parameters
    ----------
    model
        None or a shipped model's name (``"gfn2-xtb"``, ``"default"``), a
        model path, a loaded :class:`~ase_phonongnn.model.GraphModel`, or a
        sequence of them (a committee: means, and ``<property>_std``
        spreads).
    structures
        ``Atoms``, an iterable of them (any mix of sizes and compositions),
        or a file read lazily: a trajectory that ``ase.io`` reads (extxyz,
        ``.traj``, VASP ``XDATCAR``, LAMMPS dump) or a snapshot store.
    batch_size
        Structures per forward pass; bounds the memory of the evaluation
        (graphs, activations, and for forces the autograd graph). None
        (default): as many structures as fit in
        :data:`~ase_phonongnn.prediction.ATOMS_PER_BATCH`
        atoms for the device (1,280 on CPU: 32 frames of 40 atoms), a larger
        structure alone.
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    properties
        Properties to predict (see :class:`~ase_phonongnn.PhononGNNCalc`);
        None for all that the model gives. Leave out ``forces`` and
        ``stress`` to skip the backward pass.
    progress
        Show a tqdm progress bar.
    attach
        Also write each structure's results into its ``atoms.info`` (and
        forces into ``atoms.arrays``), see :func:`attach_results`; useful
        when ``structures`` are your own ``Atoms``.
    index, format
        Frames of a file and its ``ase.io`` format, see
        :func:`read_structures`.
    dtype
        ``"float32"`` or ``"float64"``, the precision in which the models
        compute (they are converted to it); None (default) keeps each
        model's own, float32 for the shipped models. Use float64 for finite
        differences: in float32 the energy of a 40-atom Ag3SBr cell
        (-4,191 eV) moves in steps of 4.9e-4 eV.
    config
        Batch size, device, properties, dtype and progress as one
        :class:`~ase_phonongnn.prediction.PredictionConfig`, instead of
        their keywords (not both).

    Returns
    -------
    dict
        One array per property, in frame order: scalars (n_frames,) float64
        (``energy`` eV, ``energy_per_atom`` eV/atom, ``band_gap`` eV, ``vbm``
        eV, ``hydrostatic_stress`` GPa), ``stress`` (n_frames, 6) eV/Å³, and
        ``forces`` an object array (n_frames,) whose items are the (n_atoms,
        3) forces in eV/Å of each frame (frames may differ in size); for a
        committee also ``<property>_std`` of the same shapes.

    Raises
    ------
    ValueError
        If there are no structures or a property is not available.
    UnsupportedStructureError, UnsupportedElementError
        If a structure is not a 3D-periodic crystal or has an element the
        model does not know (the message gives its position).
    """
    columns: dict[str, list[Any]] = {}
    for atoms, results in iter_predictions(
        model,
        structures,
        batch_size=batch_size,
        device=device,
        properties=properties,
        progress=progress,
        index=index,
        format=format,
        dtype=dtype,
        config=config,
    ):
        if attach:
            attach_results(atoms, results)
        for name, value in results.items():
            columns.setdefault(name, []).append(value)
    if not columns:
        raise ValueError("no structures to predict (the input is empty)")
    out: dict[str, NDArray[Any]] = {}
    for name, values in columns.items():
        if name.removesuffix(STD_SUFFIX) in PER_ATOM:
            ragged = np.empty(len(values), dtype=object)
            for k, value in enumerate(values):
                ragged[k] = value
            out[name] = ragged
        else:
            out[name] = np.asarray(values, dtype=np.float64)
    return out


def attach_results(atoms: Atoms, results: dict[str, Any]) -> Atoms:
    """Write predicted results into ``atoms`` and return it.

    Scalars and ``stress`` (and their ``_std``) go into ``atoms.info`` under
    their property names, per-atom ``forces`` (and ``forces_std``) into
    ``atoms.arrays``, replacing values of the same name. ASE's file writers
    keep both (they drop unknown calculator properties such as
    ``band_gap``).
    """
    for name, value in results.items():
        if name.removesuffix(STD_SUFFIX) in PER_ATOM:
            atoms.arrays[name] = np.array(value, dtype=np.float64)
        else:
            atoms.info[name] = value
    return atoms
