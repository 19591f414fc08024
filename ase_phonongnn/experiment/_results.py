"""results.json: updated after every run, resumed, shareable by processes."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ase_phonongnn._json import to_jsonable
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import UserInputError
from ase_phonongnn.model import ModelConfig
from ase_phonongnn.train import TrainConfig

#: The fields that identify a record of each section.
RECORD_KEYS = {
    "curves": ("train_kind", "model", "size", "seed"),
    "table": ("target", "model"),
}
FORMAT = "ase_phonongnn paper experiment"
FORMAT_VERSION = 1


def merged(old: Any, new: Any) -> Any:
    """Merge dicts recursively (``new`` wins at the leaves)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return {**old, **{k: merged(old.get(k), v) for k, v in new.items()}}
    return new


class ResultsFile:
    """The JSON results of the experiment, updated atomically after each change.

    Opening an existing file with the same setup resumes it: its records are
    kept and :meth:`has` tells which runs are done. Every update re-reads the
    file under a lock and merges, so that several processes may share one
    file (e.g. one per model, or the curves and the table on two cores).

    Parameters
    ----------
    path
        The results.json file.
    setup
        What the results depend on (:meth:`ExperimentConfig.setup` plus the
        dataset digests); models not yet in the file are added to it.
    fresh
        Start over even if the file exists.

    Raises
    ------
    UserInputError
        If the file was made with another setup (and ``fresh`` is False).
    """

    def __init__(self, path: Path, setup: Mapping[str, Any], fresh: bool = False):
        self.path = path
        self.setup = to_jsonable(dict(setup))
        self.data: dict[str, Any] = {}
        with self._locked():
            if fresh:
                self.path.unlink(missing_ok=True)
            self._reload()
            self._write()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # The lock is held on the output directory itself: no lock file to
        # leave behind next to the results.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: one process at a time
            yield
            return
        handle = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)  # releases the lock

    def _reload(self) -> None:
        if not self.path.is_file():
            self.data = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "ase_phonongnn_version": __version__,
                "machine": {
                    "platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                },
                "setup": self.setup,
                "curves": [],
                "table": [],
            }
            return
        data = json.loads(self.path.read_text())
        if data.get("format") != FORMAT:
            raise UserInputError(
                f"{self.path} is not a results file of this experiment"
            )
        _check_setup(self.path, data["setup"], self.setup)
        data["setup"]["models"] = {**self.setup["models"], **data["setup"]["models"]}
        self.data = data

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        with self._locked():
            self._reload()
            change(self.data)
            self._write()

    def _write(self) -> None:
        temporary = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        temporary.write_text(json.dumps(self.data, indent=1, allow_nan=False))
        os.replace(temporary, self.path)

    def has(self, section: str, **identity: Any) -> bool:
        """Whether a record of ``section`` with these identifying fields exists.

        The file is read again: another process may have added it.
        """
        with self._locked():
            self._reload()
        names = RECORD_KEYS[section]
        wanted = tuple(identity[name] for name in names)
        return any(tuple(r[n] for n in names) == wanted for r in self.data[section])

    def add(self, section: str, record: Mapping[str, Any]) -> None:
        """Append a record to ``section`` and save (unless one is already there)."""
        names = RECORD_KEYS[section]

        def change(data: dict[str, Any]) -> None:
            identity = tuple(record[name] for name in names)
            if not any(tuple(r[n] for n in names) == identity for r in data[section]):
                data[section].append(to_jsonable(dict(record)))

        self._update(change)

    def set(self, key: str, value: Any) -> None:
        """Set a top-level entry (dicts are merged into the old one) and save."""

        def change(data: dict[str, Any]) -> None:
            data[key] = merged(data.get(key), to_jsonable(value))

        self._update(change)


def recorded_rows(path: Path) -> dict[str, list[int]]:
    """Store rows of the structures an earlier run used, per kind.

    Empty if there is no results file or it records no splits. A run that
    resumes uses these structures only, so that a store which grew meanwhile
    (labelling goes on) neither changes the test sets nor invalidates the
    finished runs.
    """
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    rows = {}
    for kind, split in data.get("splits", {}).items():
        used = set(split["test_rows"])
        for order in split["pool_order_rows"].values():
            used.update(order)
        rows[kind] = sorted(used)
    return rows


def _check_setup(path: Path, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    names = (set(old) | set(new)) - {"models"}
    differ = sorted(k for k in names if old.get(k) != new.get(k))
    old_models, new_models = old.get("models", {}), new.get("models", {})
    differ += [
        f"models.{m}"
        for m in sorted(set(old_models) & set(new_models))
        if _with_defaults(old_models[m]) != _with_defaults(new_models[m])
    ]
    if differ:
        raise UserInputError(
            f"{path} holds results made with other settings or data (differ: "
            f"{', '.join(differ)}); pass --fresh to start over, or another --out"
        )


def _with_defaults(model: Mapping[str, Any]) -> dict[str, Any]:
    """Return a model's setup with every config setting it lacks at its default.

    A setting added to :class:`ModelConfig` or :class:`TrainConfig` after a
    results file was written is absent from it; at its default it changes
    nothing, so the file can still be resumed.
    """
    defaults = {
        "model_config": _field_defaults(ModelConfig),
        "train_config": _field_defaults(TrainConfig),
    }
    return {
        key: {**defaults[key], **value}
        if key in defaults and isinstance(value, Mapping)
        else value
        for key, value in model.items()
    }


def _field_defaults(cls: type) -> dict[str, Any]:
    """Return the plain (non-factory) defaults of a dataclass, as JSON holds them."""
    return {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING
    }
