"""label_snapshots: label structures with any ASE calculator into a store.

The calculations run where the executor puts them (in this process, a
:class:`~concurrent.futures.ProcessPoolExecutor`, a Dask cluster through
``Client.get_executor()``, ...); only this process writes the store, one
flushed record per finished structure. At most ``max_in_flight`` structures
are submitted at a time, so memory stays bounded for any number of
snapshots.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from tqdm.auto import tqdm

from ase_phonongnn import keys
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import LabelError
from ase_phonongnn.label.calculators import (
    CalculatorFactory,
    check_picklable,
    resolve_calculator,
)
from ase_phonongnn.label.labels import compute_labels
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.store._records import to_jsonable


@dataclass(frozen=True)
class LabelOutcome:
    """What one labelling task sends back to the writing process.

    Attributes
    ----------
    row
        Row of the snapshot in the store.
    labels
        The labels (empty when the calculation failed).
    message
        Why it failed ("" when it did not).
    provenance
        Labeller name, parameters, SCF settings used, unavailable labels,
        package versions, wall time.
    """

    row: int
    labels: dict[str, Any]
    message: str
    provenance: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether the labels were computed."""
        return not self.message


@dataclass(frozen=True)
class LabelSummary:
    """Result of :func:`label_snapshots`.

    Attributes
    ----------
    done, failed, pending
        Snapshots of the whole store per status after the run.
    labelled, newly_failed
        Snapshots labelled, and failed, by this run.
    skipped
        Given snapshots that needed no work (already done, or failed and not
        retried).
    unavailable_labels
        Labels the calculator could not give (e.g. band_gap and vbm without
        eigenvalues).
    """

    done: int
    failed: int
    pending: int
    labelled: int = 0
    newly_failed: int = 0
    skipped: int = 0
    unavailable_labels: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the summary."""
        return asdict(self)


def _versions(calculator: Any) -> dict[str, str]:
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ase_phonongnn": __version__,
    }
    # distributions a calculator declares it runs on (GFN2xTB: tblite)
    declared = getattr(calculator, "dependencies", ())
    for module in {"ase", type(calculator).__module__.split(".")[0], *declared}:
        try:
            versions[module] = importlib.metadata.version(module)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def label_one(
    factory: CalculatorFactory,
    name: str,
    row: int,
    atoms: Atoms,
    include_stress: bool,
) -> LabelOutcome:
    """Label one structure with a new calculator; never raises.

    This is the task sent to the executor's workers. Any exception of the
    calculation becomes a failed outcome with its message.
    """
    start = time.perf_counter()
    provenance: dict[str, Any] = {keys.LABELLER: name}
    try:
        calculator = factory()
        provenance["calculator_class"] = (
            f"{type(calculator).__module__}.{type(calculator).__qualname__}"
        )
        todict = getattr(calculator, "todict", None)
        provenance["parameters"] = to_jsonable(todict() if callable(todict) else {})
        provenance["versions"] = _versions(calculator)
        labels, unavailable = compute_labels(
            atoms, calculator, include_stress=include_stress
        )
        provenance["unavailable_labels"] = unavailable
        settings = getattr(calculator, "used_settings", None)
        if settings:
            provenance["scf_settings"] = to_jsonable(settings)
        message = ""
    except Exception as err:  # any failure of a calculation is recorded, not raised
        labels = {}
        message = f"{type(err).__name__}: {err}".strip()
        provenance["traceback"] = traceback.format_exc(limit=4)
    provenance["seconds"] = round(time.perf_counter() - start, 4)
    provenance["host"] = platform.node()
    return LabelOutcome(row=row, labels=labels, message=message, provenance=provenance)


def _plain(atoms: Atoms) -> Atoms:
    """Return the structure alone: what the store keeps and the worker needs."""
    return Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)


def _check_snapshots(snapshots: list[Atoms], include_stress: bool) -> None:
    for position, atoms in enumerate(snapshots):
        if not isinstance(atoms, Atoms):
            raise TypeError(
                f"snapshots[{position}] is a {type(atoms).__name__}, expected ase.Atoms"
            )
        if len(atoms) == 0:
            raise ValueError(f"snapshots[{position}] has no atoms")
        if include_stress and not atoms.pbc.all():
            raise ValueError(
                f"snapshots[{position}] ({atoms.get_chemical_formula()}) has "
                f"pbc={atoms.pbc.tolist()}, but stress and hydrostatic_stress need a "
                "cell periodic in all three directions; pass include_stress=False "
                "(phonongnn label --no-stress) to label it without them"
            )
        if atoms.pbc.all() and abs(atoms.cell.volume) < 1e-9:
            raise ValueError(
                f"snapshots[{position}] is periodic but its cell has zero volume"
            )


def _record(store: SnapshotStore, outcome: LabelOutcome) -> None:
    if outcome.ok:
        store.write_labels(outcome.row, outcome.labels, outcome.provenance)
    else:
        store.write_failure(outcome.row, outcome.message, outcome.provenance)


def _run_with_executor(
    executor: Executor,
    tasks: Iterator[tuple[int, Atoms]],
    task: tuple[CalculatorFactory, str, bool],
    max_in_flight: int,
    handle: Callable[[LabelOutcome], None],
) -> None:
    """Keep at most ``max_in_flight`` tasks submitted; handle each as it finishes."""
    factory, name, include_stress = task
    in_flight: set[Future[LabelOutcome]] = set()

    def fill() -> None:
        for row, atoms in tasks:
            in_flight.add(
                executor.submit(label_one, factory, name, row, atoms, include_stress)
            )
            if len(in_flight) >= max_in_flight:
                return

    try:
        fill()
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                in_flight.discard(future)
                try:
                    outcome = future.result()
                except Exception as err:
                    raise LabelError(
                        f"the executor failed ({type(err).__name__}: {err}); every "
                        "label finished so far is saved: run again to resume"
                    ) from err
                handle(outcome)
            fill()
    finally:
        for future in in_flight:
            future.cancel()


def label_snapshots(
    snapshots: Iterable[Atoms] | None,
    calculator: str | CalculatorFactory,
    store: SnapshotStore | str | os.PathLike[str],
    executor: Executor | None = None,
    *,
    calculator_options: Mapping[str, Any] | None = None,
    include_stress: bool = True,
    retry_failed: bool = False,
    max_in_flight: int = 64,
    progress: bool = True,
) -> LabelSummary:
    """Label snapshots with an ASE calculator into a snapshot store.

    The snapshots are added to the store (a structure already there, by
    content hash, is not added again), then every one that is not yet done is
    labelled and its labels, or its failure message, written and flushed as
    soon as it finishes. Stopping the run at any moment loses only the
    calculations in flight; calling again with the same arguments resumes.

    Parameters
    ----------
    snapshots
        Structures to label, e.g. from :class:`~ase_phonongnn.PhononSampler`;
        their sampling information in ``atoms.info`` is kept as provenance.
        None labels the pending snapshots already in the store.
    calculator
        ``"gfn2-xtb"``, ``"emt"``, ``"MODULE:FACTORY"``, or a picklable
        callable without arguments returning a new ASE calculator (see
        :func:`~ase_phonongnn.label.resolve_calculator`).
    store
        A store open for appending, or the path of one (created if missing).
    executor
        Where the calculations run: any :class:`concurrent.futures.Executor`,
        e.g. ``ProcessPoolExecutor(4)`` or a Dask ``Client(...).get_executor()``.
        None runs them in this process.
    calculator_options
        Keyword arguments for the calculator's factory, e.g.
        ``{"retry": False}`` for GFN2-xTB; recorded with each label as the
        calculator's parameters.
    include_stress
        Compute stress and hydrostatic stress (default True; needs periodic
        structures, checked before anything is written).
    retry_failed
        Label again the snapshots whose labelling failed before.
    max_in_flight
        Most structures submitted to the executor at once.
    progress
        Show a progress bar.

    Returns
    -------
    LabelSummary
        Counts per status of the whole store, and of this run.

    Raises
    ------
    ValueError, TypeError, ImportError
        Bad calculator, snapshots or arguments; nothing has been written.
    LabelError
        The executor itself failed (e.g. a worker process died); what was
        finished is saved.
    """
    factory, name = resolve_calculator(calculator, calculator_options)
    probe = factory()
    if not callable(getattr(probe, "get_potential_energy", None)):
        raise TypeError(
            f"calculator factory {name!r} returned a {type(probe).__name__}, "
            "not an ASE calculator"
        )
    if executor is not None:
        check_picklable(factory, name)
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1 (got {max_in_flight})")
    given = None if snapshots is None else list(snapshots)
    if given is not None:
        _check_snapshots(given, include_stress)
    owned = not isinstance(store, SnapshotStore)
    if isinstance(store, SnapshotStore):
        if store.mode != "a":
            raise ValueError(
                f"store {store.path} is open read-only: open it with mode='a'"
            )
        target = store
    elif os.path.exists(store):
        target = SnapshotStore.open(store, mode="a")
    else:
        target = SnapshotStore.create(store)
    try:
        return _label_into(
            target,
            given,
            factory,
            name,
            executor,
            include_stress,
            retry_failed,
            max_in_flight,
            progress,
        )
    finally:
        if owned:
            target.close()


def _label_into(
    store: SnapshotStore,
    given: list[Atoms] | None,
    factory: CalculatorFactory,
    name: str,
    executor: Executor | None,
    include_stress: bool,
    retry_failed: bool,
    max_in_flight: int,
    progress: bool,
) -> LabelSummary:
    wanted = {keys.PENDING} | ({keys.FAILED} if retry_failed else set())
    status_of = {
        int(row): status for status in keys.STATUSES for row in store.indices(status)
    }
    if given is None:
        rows = [row for row, status in sorted(status_of.items()) if status in wanted]
        work = [(row, _plain(store[row])) for row in rows]
        if include_stress:
            _check_snapshots([atoms for _, atoms in work], include_stress)
        n_given = len(work)
    else:
        structures: dict[int, Atoms] = {}
        for row, atoms in zip(store.add(given), given, strict=True):
            structures.setdefault(int(row), atoms)
        work = [
            (row, _plain(atoms))
            for row, atoms in structures.items()
            if status_of.get(row, keys.PENDING) in wanted
        ]
        n_given = len(structures)

    counts = {"labelled": 0, "failed": 0}
    unavailable: set[str] = set()
    bar = tqdm(
        total=len(work),
        desc=f"labelling ({name})",
        unit="snapshot",
        disable=not progress,
    )

    def handle(outcome: LabelOutcome) -> None:
        _record(store, outcome)
        counts["labelled" if outcome.ok else "failed"] += 1
        unavailable.update(outcome.provenance.get("unavailable_labels", ()))
        bar.update(1)
        if counts["failed"]:
            bar.set_postfix(failed=counts["failed"])

    try:
        if executor is None:
            for row, atoms in work:
                handle(label_one(factory, name, row, atoms, include_stress))
        else:
            _run_with_executor(
                executor,
                iter(work),
                (factory, name, include_stress),
                max_in_flight,
                handle,
            )
    finally:
        bar.close()
    totals = store.counts()
    return LabelSummary(
        done=totals[keys.DONE],
        failed=totals[keys.FAILED],
        pending=totals[keys.PENDING],
        labelled=counts["labelled"],
        newly_failed=counts["failed"],
        skipped=n_given - len(work),
        unavailable_labels=tuple(sorted(unavailable)),
    )
