"""Named shipped models: the manifest ``ase_phonongnn/data/models.json``.

The manifest lists each named model (a single model or a committee) with its
member files and their SHA-256 digests, the file of its spread calibration,
the datasets it was trained on and the level of theory of their labels;
aliases name other entries (``default`` is ``gfn2-xtb``). Loading a named
model checks every member against its digest and the calibration against the
members it was fitted for, and refuses a model file in the data directory
that no entry lists, so a committee is exactly what the manifest says.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeGuard

from ase_phonongnn.data import DATA_DIR, MODEL_MANIFEST
from ase_phonongnn.errors import ModelManifestError

#: The name that ``None`` and ``"default"`` stand for.
DEFAULT_NAME: Final = "default"
#: Suffix of model files; every one in the data directory must be listed.
MODEL_SUFFIX: Final = ".safetensors"


@dataclass(frozen=True)
class NamedModel:
    """A shipped model (one file or a committee) as the manifest lists it.

    Attributes
    ----------
    name
        The manifest's name (an alias resolves to it).
    members
        Paths of the member files, in the manifest's order.
    spread_scale
        Factors on the committee's spreads per property, from the
        calibration file, or None if the entry has none.
    training_data
        Names of the datasets the members were trained on.
    level_of_theory
        The method of the training labels.
    description
        One line on what the model is.
    """

    name: str
    members: tuple[Path, ...]
    spread_scale: dict[str, float] | None
    training_data: tuple[str, ...]
    level_of_theory: str
    description: str


def sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path = DATA_DIR) -> dict[str, Any]:
    """Return the manifest of ``directory`` as a dict (``models``, ``aliases``)."""
    path = directory / MODEL_MANIFEST
    if not path.is_file():
        raise ModelManifestError(
            f"no model manifest {path}; reinstall ase_phonongnn, or pass the "
            "path of a model file"
        )
    try:
        manifest = json.loads(path.read_text())
        models, aliases = manifest["models"], manifest.get("aliases", {})
    except (ValueError, KeyError, TypeError) as err:
        raise ModelManifestError(f"{path} is not a model manifest ({err})") from None
    if not isinstance(models, Mapping) or not isinstance(aliases, Mapping):
        raise ModelManifestError(f"{path}: models and aliases must be objects")
    return {"models": dict(models), "aliases": dict(aliases)}


def model_names(directory: Path = DATA_DIR) -> tuple[str, ...]:
    """Return the names of the shipped models and their aliases, sorted.

    Examples
    --------
    >>> from ase_phonongnn.model import model_names
    >>> "gfn2-xtb" in model_names() and "default" in model_names()
    True
    """
    manifest = read_manifest(directory)
    return tuple(sorted({*manifest["models"], *manifest["aliases"]}))


def models_covering(
    symbols: Collection[str], directory: Path = DATA_DIR
) -> tuple[str, ...]:
    """Return the shipped models whose training data hold all of ``symbols``.

    Parameters
    ----------
    symbols
        Chemical symbols, e.g. ``{"Ag", "S", "I"}``.
    directory
        Where the manifest is (the data directory).

    Examples
    --------
    >>> from ase_phonongnn.model import models_covering
    >>> "pbesol" in models_covering({"Ag", "S", "I"})
    True
    """
    models = read_manifest(directory)["models"]
    wanted = set(symbols)
    return tuple(
        sorted(n for n, e in models.items() if wanted <= set(e.get("elements", ())))
    )


def is_model_name(spec: object, directory: Path = DATA_DIR) -> TypeGuard[str | None]:
    """Return whether ``spec`` is None or a name of :func:`model_names`."""
    if spec is None:
        return True
    if not isinstance(spec, str):
        return False
    return spec in model_names(directory)


def named_model(name: str | None = None, directory: Path = DATA_DIR) -> NamedModel:
    """Return the shipped model ``name``, its members checked against the manifest.

    Parameters
    ----------
    name
        A name of :func:`model_names` (``"gfn2-xtb"``; None and
        ``"default"`` are its alias).
    directory
        Where the manifest and the model files are (the data directory).

    Raises
    ------
    ValueError
        If ``name`` is not a shipped model's name.
    ModelManifestError
        If a member file is missing or differs from its digest, the
        calibration was fitted for other members, or the directory holds a
        model file that no entry lists.
    """
    manifest = read_manifest(directory)
    models, aliases = manifest["models"], manifest["aliases"]
    key = aliases.get(name or DEFAULT_NAME, name or DEFAULT_NAME)
    if key not in models:
        raise ValueError(
            f"no shipped model named {name!r}; choose one of "
            f"{', '.join(sorted({*models, *aliases}))}, or give a model file's path"
        )
    _refuse_unlisted(directory, models)
    entry = models[key]
    where = f"{directory / MODEL_MANIFEST} [{key!r}]"
    try:
        members = {str(m["file"]): str(m["sha256"]) for m in entry["members"]}
        calibration = entry.get("calibration")
        training_data = tuple(str(d) for d in entry["training_data"])
        level_of_theory = str(entry["level_of_theory"])
    except (KeyError, TypeError) as err:
        raise ModelManifestError(f"{where}: missing field {err}") from None
    if not members:
        raise ModelManifestError(f"{where} lists no members")
    paths = tuple(_checked(directory / f, digest) for f, digest in members.items())
    scale = None
    if calibration is not None:
        scale = _spread_scale(directory, calibration, members, where)
    return NamedModel(
        name=key,
        members=paths,
        spread_scale=scale,
        training_data=training_data,
        level_of_theory=level_of_theory,
        description=str(entry.get("description", "")),
    )


def named_member(spec: str, directory: Path = DATA_DIR) -> Path | None:
    """Return the member file that ``NAME`` or ``NAME:INDEX`` names, else None.

    ``NAME`` alone names a one-member model; ``NAME:INDEX`` the member at
    ``INDEX`` (from 0) of a committee. Anything else (a path) gives None.
    """
    name, _, index = spec.partition(":")
    if not is_model_name(name, directory) or (index and not index.isdigit()):
        return None
    members = named_model(name, directory).members
    if not index:
        if len(members) > 1:
            raise ValueError(
                f"{name!r} is a committee of {len(members)} models: load one with "
                f"'{name}:0' ... '{name}:{len(members) - 1}', or all of them with "
                f"Committee.load({name!r}) or PhononGNNCalc({name!r})"
            )
        return members[0]
    if int(index) >= len(members):
        raise ValueError(
            f"{spec!r}: {name!r} has {len(members)} members, numbered from 0"
        )
    return members[int(index)]


def _checked(path: Path, digest: str) -> Path:
    if not path.is_file():
        raise ModelManifestError(
            f"the manifest lists {path.name}, but {path} is missing; reinstall "
            "ase_phonongnn"
        )
    if sha256(path) != digest:
        raise ModelManifestError(
            f"{path} is not the model the manifest lists (SHA-256 differs); "
            f"restore the shipped file, or give its path instead of a name"
        )
    return path


def _refuse_unlisted(directory: Path, models: Mapping[str, Any]) -> None:
    listed = {str(m["file"]) for e in models.values() for m in e.get("members", [])}
    found = {p.name for p in directory.glob(f"*{MODEL_SUFFIX}")}
    unlisted = sorted(found - listed)
    if unlisted:
        raise ModelManifestError(
            f"{directory} holds model files that no named model lists: "
            f"{', '.join(unlisted)}; add them to {MODEL_MANIFEST} with their SHA-256 "
            "and a calibration fitted for them, or move them out"
        )


def _spread_scale(
    directory: Path, calibration: Any, members: Mapping[str, str], where: str
) -> dict[str, float]:
    try:
        path = _checked(directory / calibration["file"], calibration["sha256"])
        fitted = json.loads(path.read_text())
        scale = {str(p): float(f) for p, f in fitted["spread_scale"].items()}
        fitted_for = fitted["members"]
    except (KeyError, TypeError, ValueError) as err:
        raise ModelManifestError(f"{where}: unreadable calibration ({err})") from None
    digests = fitted.get("member_sha256")
    if sorted(fitted_for) != sorted(members) or (
        digests is not None and dict(digests) != dict(members)
    ):
        raise ModelManifestError(
            f"{path.name} was fitted for the members {sorted(fitted_for)}, not for "
            f"the {sorted(members)} that {where} lists; refit it with "
            "ase_phonongnn.prediction.calibrate_spread"
        )
    return scale
