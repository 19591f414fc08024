"""What ships with ase_phonongnn: force constants, datasets and models.

Files are found by name through :func:`data_path`; nothing is downloaded.
The pretrained models are named in the manifest :data:`MODEL_MANIFEST`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

DATA_DIR: Final = Path(__file__).resolve().parent

#: Materials with shipped force constants.
MATERIALS: Final = ("Ag3SBr", "Ag3SI")

#: How the names of the shipped force-constant files end:
#: ``<material>_harmonic_params.yaml.xz`` and ``<material>_<T>K_params.yaml.xz``.
FORCE_CONSTANTS_SUFFIX: Final = "_params.yaml.xz"


def data_path(name: str) -> Path:
    """Return the path of a shipped file, with a clear error if it is missing."""
    path = DATA_DIR / name
    if not path.is_file():
        available = sorted(p.name for p in DATA_DIR.iterdir() if p.is_file())
        raise FileNotFoundError(
            f"no shipped file {name!r} in {DATA_DIR}; available: {available}"
        )
    return path


def force_constants_path(
    material: str = "Ag3SBr", temperature: float | None = None
) -> Path:
    """Return the shipped phonopy_params.yaml.xz of a material.

    The force constants ship xz-compressed; ``phonopy.load``,
    :meth:`~ase_phonongnn.sample.PhononSampler.from_file` and every verb that
    takes a phonopy file read them as they are.

    Parameters
    ----------
    material
        "Ag3SBr" or "Ag3SI".
    temperature
        None for the harmonic force constants, or a temperature in K for the
        anharmonically renormalised ones at that temperature
        (:func:`renormalised_temperatures`).

    Notes
    -----
    The harmonic constants of both are GFN2-xTB's; Ag3SBr's renormalised
    ones too (300–600 K), while Ag3SI's were renormalised with the PBEsol
    family committee (``pbesol``, 100–600 K). Each file's history of the
    self-consistent loop ships beside it (``<material>_<T>K_history.json``).
    """
    if material not in MATERIALS:
        raise ValueError(f"material must be one of {MATERIALS} (got {material!r})")
    if temperature is None:
        return data_path(f"{material}_harmonic{FORCE_CONSTANTS_SUFFIX}")
    return data_path(f"{material}_{round(temperature)}K{FORCE_CONSTANTS_SUFFIX}")


def renormalised_temperatures(material: str = "Ag3SBr") -> tuple[float, ...]:
    """Return the temperatures (K) at which renormalised force constants ship.

    Parameters
    ----------
    material
        "Ag3SBr" or "Ag3SI".

    Examples
    --------
    >>> from ase_phonongnn.data import renormalised_temperatures
    >>> 300.0 in renormalised_temperatures("Ag3SBr")
    True
    """
    if material not in MATERIALS:
        raise ValueError(f"material must be one of {MATERIALS} (got {material!r})")
    found = []
    for path in DATA_DIR.glob(f"{material}_*K{FORCE_CONSTANTS_SUFFIX}"):
        kelvin = path.name[len(material) + 1 : -len(f"K{FORCE_CONSTANTS_SUFFIX}")]
        if kelvin.isdigit():
            found.append(float(kelvin))
    return tuple(sorted(found))


#: Shipped labelled datasets (snapshot stores ``NAME.h5``, gzip-compressed
#: HDF5): 2×2×2 Ag3SBr supercells (40 atoms, fixed lattice) labelled with
#: GFN2-xTB. ``phonon-Ag3SBr``: normal-mode snapshots at 100–600 K, of the
#: 300 K renormalised force constants up to 400 K and of those renormalised
#: at the snapshot's temperature above; ``random-Ag3SBr``: the paper's
#: eq. 2 at 0.05–0.40 Å. Each snapshot carries its provenance (sampler,
#: temperature or amplitude, seed, force-constants digest, labeller settings
#: and versions); failed SCFs stay in the store with their message.
DATASETS: Final = ("phonon-Ag3SBr", "random-Ag3SBr")


#: Environment variable naming a folder of further datasets (default: the
#: ``datasets`` folder beside the package in a clone of the repository).
DATASETS_ENV: Final = "ASE_PHONONGNN_DATASETS"
#: Manifest of a datasets folder: ``{name: {"file": relative path, ...}}``,
#: with each store's level of theory and description.
DATASET_MANIFEST: Final = "datasets.json"


def datasets_directory() -> Path:
    """Return the folder of the datasets that do not ship inside the package.

    ``$ASE_PHONONGNN_DATASETS`` where set, else ``datasets/`` of the
    repository the package sits in (a clone, or an editable install of one).
    """
    configured = os.environ.get(DATASETS_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return DATA_DIR.parents[1] / "datasets"


def dataset_manifest() -> dict[str, dict[str, str]]:
    """Return the manifest of :func:`datasets_directory` (empty where it has none)."""
    path = datasets_directory() / DATASET_MANIFEST
    if not path.is_file():
        return {}
    manifest: dict[str, dict[str, str]] = json.loads(path.read_text())
    return manifest


def dataset_names() -> tuple[str, ...]:
    """Return the names of every dataset found: shipped ones, then the folder's.

    A name the folder's manifest lists counts once its store exists.
    """
    directory = datasets_directory()
    found = [
        name
        for name, entry in dataset_manifest().items()
        if name not in DATASETS and (directory / entry["file"]).is_file()
    ]
    return (*DATASETS, *found)


def dataset_path(name: str) -> Path:
    """Return the path of a snapshot store by name.

    Parameters
    ----------
    name
        One of :data:`DATASETS` (inside the package) or a name in the
        manifest of :func:`datasets_directory`, e.g. the PBEsol family's
        ``pbesol-thermal-Ag3SI``.

    Examples
    --------
    >>> from ase_phonongnn import SnapshotStore
    >>> from ase_phonongnn.data import dataset_path
    >>> with SnapshotStore.open(dataset_path("phonon-Ag3SBr")) as store:
    ...     snapshots = store.read_atoms("done")
    """
    if name in DATASETS:
        return data_path(f"{name}.h5")
    entry = dataset_manifest().get(name)
    if entry is None:
        raise ValueError(
            f"no dataset {name!r}; choose one of {dataset_names()} (further "
            f"datasets: a folder with {DATASET_MANIFEST}, named by ${DATASETS_ENV})"
        )
    path = datasets_directory() / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset {name!r} is listed in {datasets_directory() / DATASET_MANIFEST} "
            f"but its store {path} is missing"
        )
    return path


def resolve_dataset(source: str | os.PathLike[str]) -> Path:
    """Return the store of a dataset name (see :func:`dataset_names`), or the path."""
    if not Path(source).exists() and (
        str(source) in DATASETS or str(source) in dataset_manifest()
    ):
        return dataset_path(str(source))
    return Path(source)


#: The manifest of the shipped pretrained models (their names, member files
#: with SHA-256 digests, spread calibration, training data and level of
#: theory), read by :mod:`ase_phonongnn.model`
#: (:func:`~ase_phonongnn.model.named_model`).
MODEL_MANIFEST: Final = "models.json"


def resolve_force_constants(source: str | Path) -> Path:
    """Return the phonopy file for a shipped material name or a path.

    Parameters
    ----------
    source
        A material of :data:`MATERIALS` (its harmonic force constants) or the
        path of a phonopy_params.yaml (or .yaml.xz).
    """
    if str(source) in MATERIALS:
        return force_constants_path(str(source))
    return Path(source)
