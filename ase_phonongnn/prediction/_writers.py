"""Per-frame prediction output: CSV, snapshot stores and ase.io formats."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import numpy as np
import torch
from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn._config import keyword_config
from ase_phonongnn._version import __version__
from ase_phonongnn.prediction._batch import (
    STORE_SUFFIXES,
    StructureSource,
    _committee,
    attach_results,
    iter_predictions,
)
from ase_phonongnn.prediction._config import PredictionConfig
from ase_phonongnn.prediction._models import (
    PER_ATOM,
    STD_SUFFIX,
    Committee,
    ModelSpec,
    formula,
)

#: Voigt components, in ASE's order, for CSV column names.
VOIGT: Final = ("xx", "yy", "zz", "yz", "xz", "xy")
#: Labeller name recorded with predictions written to a store.
LABELLER: Final = "ase_phonongnn.prediction"
#: ase.io formats whose files are frames one after another (streamed).
_CONCATENATED: Final = ("extxyz", "xyz")
#: Labels a store keeps (the committee spreads go into the provenance).
_STORED: Final = (
    keys.ENERGY,
    keys.ENERGY_PER_ATOM,
    keys.BAND_GAP,
    keys.VBM,
    keys.HYDROSTATIC_STRESS,
    keys.STRESS,
    keys.FORCES,
)


class PredictionWriter:
    """Write predictions frame by frame to a CSV file, a store or an ase.io file.

    The kind follows the suffix of ``path`` (see :func:`write_predictions`).
    Use as a context manager, or call :meth:`close`.

    Parameters
    ----------
    path
        Output file.
    committee
        The models that made the predictions (recorded in a store).
    overwrite
        Replace an existing file (default: refuse).
    out_format
        ``ase.io`` format name, when the suffix does not tell it.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        committee: Committee,
        *,
        overwrite: bool = False,
        out_format: str | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"{self.path} exists; choose another output file or overwrite it "
                "(overwrite=True, --overwrite)"
            )
        self.committee = committee
        self.count = 0
        suffix = self.path.suffix.lower()
        self._csv: Any = None
        self._handle: IO[str] | None = None
        self._header: list[str] | None = None
        self._store: Any = None
        self._format: str | None = None
        self._trajectory: Any = None
        if suffix == ".csv" and out_format is None:
            self._handle = self.path.open("w", newline="")
            self._csv = csv.writer(self._handle)
        elif suffix in STORE_SUFFIXES and out_format is None:
            from ase_phonongnn.store import SnapshotStore

            self._store = SnapshotStore.create(self.path, overwrite=True)
        else:
            from ase.io.formats import filetype, get_ioformat

            name = out_format or filetype(str(self.path), read=False)
            io_format = get_ioformat(name)
            if not io_format.can_write:
                raise ValueError(f"ase.io cannot write format {name!r} ({self.path})")
            self._format = name
            self.path.unlink(missing_ok=True)
            if name == "traj":
                from ase.io.trajectory import TrajectoryWriter

                self._trajectory = TrajectoryWriter(str(self.path), mode="w")
            elif name in _CONCATENATED:
                self._handle = self.path.open("w")

    def write(self, atoms: Atoms, results: dict[str, Any]) -> None:
        """Write one frame and its results (from :func:`iter_predictions`)."""
        if self._csv is not None:
            self._write_csv(atoms, results)
        elif self._store is not None:
            self._write_store(atoms, results)
        else:
            self._write_ase(atoms, results)
        self.count += 1

    def close(self) -> None:
        """Flush and close the output."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._trajectory is not None:
            self._trajectory.close()
            self._trajectory = None

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- the kinds --------------------------------------------------------------
    def _write_csv(self, atoms: Atoms, results: dict[str, Any]) -> None:
        row: dict[str, Any] = {
            "frame": self.count,
            "n_atoms": len(atoms),
            "formula": formula(atoms),
        }
        for name, value in results.items():
            base = name.removesuffix(STD_SUFFIX)
            if base in PER_ATOM:
                continue
            if np.ndim(value) == 1:
                tail = name[len(base) :]
                for component, x in zip(VOIGT, value, strict=True):
                    row[f"{base}_{component}{tail}"] = repr(float(x))
            else:
                row[name] = repr(float(value))
        if self._header is None:
            self._header = list(row)
            self._csv.writerow(self._header)
        self._csv.writerow([row.get(column, "") for column in self._header])

    def _write_store(self, atoms: Atoms, results: dict[str, Any]) -> None:
        snapshot = atoms.copy()
        snapshot.calc = None
        (row,) = self._store.add([snapshot])
        provenance: dict[str, Any] = {
            "labeller": LABELLER,
            "models": list(self.committee.sources),
            "device": str(self.committee.device),
            keys.PACKAGE_VERSION: __version__,
        }
        spread = {
            name.removesuffix(STD_SUFFIX): np.asarray(value).tolist()
            for name, value in results.items()
            if name.endswith(STD_SUFFIX)
            and name.removesuffix(STD_SUFFIX) not in PER_ATOM
        }
        if spread:
            provenance["committee_std"] = spread
        labels = {k: results[k] for k in _STORED if k in results}
        self._store.write_labels(int(row), labels, provenance)

    def _write_ase(self, atoms: Atoms, results: dict[str, Any]) -> None:
        import ase.io

        frame = atoms.copy()
        frame.calc = None
        attach_results(frame, results)
        if self._trajectory is not None:
            self._trajectory.write(frame)
        elif self._handle is not None:
            ase.io.write(self._handle, frame, format=self._format)
        elif self.count == 0:
            ase.io.write(self.path, frame, format=self._format)
        else:
            raise ValueError(
                f"cannot stream several frames into format {self._format!r}; "
                "write .extxyz, .xyz, .traj, .csv or .h5"
            )


def write_predictions(
    model: ModelSpec | Committee,
    structures: StructureSource,
    path: str | os.PathLike[str],
    *,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    properties: Iterable[str] | None = None,
    progress: bool = False,
    overwrite: bool = False,
    index: str | int | slice = ":",
    format: str | None = None,
    out_format: str | None = None,
    config: PredictionConfig | None = None,
) -> int:
    """Predict structures and write the results per frame; return the count.

    The output kind follows the suffix of ``path``:

    - ``.csv``: one row per frame: ``frame``, ``n_atoms``, ``formula``, each
      scalar property, ``stress_xx`` ... ``stress_xy`` (and ``_std``
      columns for a committee); no forces.
    - ``.h5``/``.hdf5``: a new snapshot store holding each frame with its
      predictions as labels (status done; labeller ``ase_phonongnn.prediction``,
      the model files and the committee spreads in the provenance).
    - ``.extxyz``/``.xyz``/``.traj`` (or another ``ase.io`` format for a
      single frame): written with ``ase.io`` frame by frame, the results in
      ``atoms.info``/``atoms.arrays`` (see :func:`attach_results`);
      ``out_format`` names the ``ase.io`` format if the suffix does not. An
      attached calculator is not written: its values would contradict the
      predictions.

    Memory stays bounded by the batch: frames are read, predicted and
    written a batch at a time. Other arguments as in :func:`predict`
    (``config``: a :class:`PredictionConfig` instead of batch size, device,
    properties, dtype and progress keywords).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    config = keyword_config(
        PredictionConfig,
        config,
        {
            "batch_size": batch_size,
            "device": device,
            "properties": properties,
            "progress": progress,
        },
    )
    committee = _committee(model, config.device, config.dtype, config.compile_messages)
    with PredictionWriter(
        path, committee, overwrite=overwrite, out_format=out_format
    ) as writer:
        for atoms, results in iter_predictions(
            committee,
            structures,
            batch_size=config.batch_size,
            properties=config.properties,
            progress=config.progress,
            index=index,
            format=format,
        ):
            writer.write(atoms, results)
        return writer.count
