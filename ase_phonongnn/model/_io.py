"""Saving and loading models: one safetensors file, weights plus JSON metadata.

File layout (``format_version`` 1)
----------------------------------
A safetensors file whose tensors are the model's ``state_dict`` and whose
header metadata holds one entry, ``"ase_phonongnn"``, a JSON object with:

``format``
    ``"ase_phonongnn.model"``.
``format_version``
    Integer, :data:`FORMAT_VERSION`. Files of a newer version are refused with
    an "upgrade" message; older ones are migrated one step at a time through
    :data:`_MIGRATIONS`.
``package_version``
    The ase_phonongnn version that wrote the file.
``model``
    The registry key (``ours``, ``paper-1`` ...), never an import path.
``config``
    :meth:`ModelConfig.to_dict`.
``species``, ``cutoff``, ``targets``, ``units``, ``normalisation``, ``dtype``,
``node_features``
    Element table (numbers and symbols), graph radius in Å, targets, unit of
    every output, fitted target scaling, floating dtype, feature names/source.
``training``
    Optional free-form record from the trainer (data digest, metrics ...).
``digest``
    ``"sha256:<hex>"`` over every other metadata entry and every tensor
    (:func:`model_digest`). Loading recomputes it and refuses a file whose
    header or weights were changed after saving; files written before the
    digest existed have none and load as before.

Before any tensor is allocated, the sizes a header asks for are bounded
(:data:`CONFIG_BOUNDS`): a damaged or hostile header cannot make loading
allocate gigabytes, run for minutes or build a neighbour list of a huge
radius.

Loading reads and checks the metadata before any tensor, builds the model
from its config and loads the weights with ``load_state_dict(strict=True)``.
A torch checkpoint (``{"metadata": ..., "state_dict": ...}``) is read with
``torch.load(weights_only=True)`` only; a file that needs more (pickled
objects) is refused, never loaded another way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ase_phonongnn import keys
from ase_phonongnn._version import __version__
from ase_phonongnn.errors import ModelFormatError, ModelIntegrityError
from ase_phonongnn.graph import FEATURE_NAMES, FEATURE_SOURCE
from ase_phonongnn.model._base import GraphModel, describe_species
from ase_phonongnn.model._config import ModelConfig
from ase_phonongnn.model._manifest import named_member
from ase_phonongnn.model._registry import MODELS, build_model

FORMAT: Final = "ase_phonongnn.model"
FORMAT_VERSION: Final = 1
_METADATA_KEY: Final = "ase_phonongnn"
_DIGEST_KEY: Final = "digest"

#: Largest value of each size in a model header that loading accepts; far
#: above any trained model (the shipped ones: cutoff 5.5 Å, 128 channels,
#: 3-6 interactions).
CONFIG_BOUNDS: Final = {
    "cutoff": 15.0,
    "hidden_channels": 4096,
    "n_interactions": 64,
    "n_radial": 256,
    "envelope_exponent": 64,
}
#: Most elements a model header may list.
MAX_SPECIES: Final = 118
_DTYPES: Final = {"float32": torch.float32, "float64": torch.float64}

#: version v -> function turning v metadata into v + 1 metadata.
_MIGRATIONS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}


def model_metadata(
    model: GraphModel, training: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the metadata that :func:`save_model` writes for ``model``."""
    dtype = next(iter(model.state_dict().values())).dtype
    dtype_name = {v: k for k, v in _DTYPES.items()}.get(dtype)
    if dtype_name is None:
        raise ValueError(f"model dtype must be float32 or float64 (got {dtype})")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "model": model.config.model,
        "config": model.config.to_dict(),
        "species": describe_species(model.species),
        "cutoff": model.cutoff,
        "targets": list(model.targets),
        "units": {
            name: keys.UNITS[name]
            for name in model.implemented_properties
            if name in keys.UNITS
        },
        "normalisation": model.normalisation(),
        "dtype": dtype_name,
        "node_features": {"names": list(FEATURE_NAMES), "source": FEATURE_SOURCE},
        "training": dict(training or {}),
    }


def save_model(
    model: GraphModel,
    path: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` to one ``.safetensors`` file.

    Parameters
    ----------
    model
        A registered model (:data:`MODELS`).
    path
        Output file; parent directories must exist. Conventionally
        ``*.safetensors``.
    training
        JSON-serialisable record stored under ``"training"`` (e.g. a digest
        of the training data, metrics).

    Returns
    -------
    Path
        The path written.
    """
    if not isinstance(model, GraphModel):
        raise TypeError(f"model must be a GraphModel (got {type(model).__name__})")
    metadata = model_metadata(model, training)
    try:
        header = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"training metadata must be JSON-serialisable without NaN ({err})"
        ) from None
    tensors = {
        name: tensor.detach().to("cpu").contiguous()
        for name, tensor in model.state_dict().items()
    }
    metadata[_DIGEST_KEY] = model_digest(metadata, tensors)
    header = json.dumps(metadata, allow_nan=False)
    target = Path(path)
    save_file(tensors, str(target), metadata={_METADATA_KEY: header})
    return target


def read_model_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the checked (and migrated) metadata of a saved model.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        If it is not a model file, is newer than this package reads, or names
        an unknown model.
    """
    metadata, _ = _read(Path(path), tensors=False)
    return metadata


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """Return the torch dtype named by ``dtype`` (None stays None).

    Raises
    ------
    ValueError
        Unless ``dtype`` is None, ``"float32"``, ``"float64"`` or one of
        those torch dtypes.
    """
    if dtype is None:
        return None
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"dtype must be 'float32' or 'float64' (got {dtype!r}); float64 for "
        "finite differences and phonons, float32 for speed"
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
) -> GraphModel:
    """Load a model saved by :func:`save_model` (or a weights-only checkpoint).

    Parameters
    ----------
    path
        A ``.safetensors`` model file, or a torch checkpoint holding
        ``{"metadata": <JSON str or dict>, "state_dict": {name: tensor}}``
        that ``torch.load(weights_only=True)`` accepts; or a shipped model by
        name (:func:`~ase_phonongnn.model.model_names`): ``NAME`` for a
        single model, ``NAME:INDEX`` for a member of a committee
        (``"gfn2-xtb:0"``), checked against the manifest.
    device
        Where to put the model.
    dtype
        ``"float32"`` or ``"float64"``: the floating dtype of the weights and
        of the computation (a model saved in one is converted to the other);
        None (default) keeps the dtype of the file: float32 for the shipped
        models and, by default, for those ``phonongnn train`` writes. In
        float32 the energy of a 40-atom Ag3SBr cell (-4,191 eV) moves in
        steps of 4.9e-4 eV, too coarse for finite differences: use float64.

    Returns
    -------
    GraphModel
        In eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFormatError
        For a file that is not a model, a newer format version, an unknown
        model key, weights that do not match the config, or a checkpoint with
        pickled objects.
    """
    requested = resolve_dtype(dtype)
    source = named_member(path) if isinstance(path, str) else None
    source = source or Path(path)
    metadata, state = _read(source, tensors=True)
    expected = metadata.get(_DIGEST_KEY)
    if expected is not None and model_digest(metadata, state) != expected:
        raise ModelIntegrityError(
            f"{source}: the model's digest does not match its configuration and "
            "weights: the file was changed after it was saved (an edited header "
            "or damaged weights); use the file as saved, or train and save again"
        )
    try:
        config = ModelConfig.from_saved(metadata["config"])
    except (TypeError, ValueError, KeyError) as err:
        raise ModelFormatError(f"{source}: invalid model config ({err})") from None
    stored = _DTYPES.get(metadata.get("dtype", "float32"))
    if stored is None:
        raise ModelFormatError(f"{source}: unknown dtype {metadata.get('dtype')!r}")
    model = build_model(config, dtype=stored)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ModelFormatError(
            f"{source}: the weights do not match model {config.model!r} ({err})"
        ) from None
    return model.to(device=device, dtype=requested).eval()


def model_digest(metadata: Mapping[str, Any], tensors: Mapping[str, Any]) -> str:
    """Return ``"sha256:<hex>"`` over a model's metadata and tensors.

    The metadata enter as canonical JSON (sorted keys, without the digest
    entry); each tensor by name, dtype, shape and bytes, in name order.
    """
    digest = hashlib.sha256(b"ase_phonongnn model v1\n")
    header = {key: value for key, value in metadata.items() if key != _DIGEST_KEY}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"\n{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


def _check_bounds(metadata: dict[str, Any], source: Path) -> None:
    """Refuse header sizes outside :data:`CONFIG_BOUNDS`, and a split cutoff."""
    config = metadata["config"]
    for name, bound in CONFIG_BOUNDS.items():
        value = config.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= bound
        ):
            raise ModelFormatError(
                f"{source}: the model header's {name} is {value!r}, outside "
                f"(0, {bound:g}]; the file is damaged or not a trained model"
            )
    species = config.get("species", ())
    if not isinstance(species, list | tuple) or len(species) > MAX_SPECIES:
        raise ModelFormatError(f"{source}: the model header's species list is invalid")
    top = metadata.get("cutoff")
    if top is not None and top != config.get("cutoff"):
        raise ModelFormatError(
            f"{source}: the header's cutoff {top!r} Å differs from its config's "
            f"{config.get('cutoff')!r} Å; the file was edited after saving"
        )


# -- internals ---------------------------------------------------------------
def _read(source: Path, *, tensors: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    if not source.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    with source.open("rb") as handle:
        head = handle.read(9)
    if len(head) == 9 and head[8:9] == b"{":
        return _read_safetensors(source, tensors=tensors)
    return _read_checkpoint(source)


def _read_safetensors(
    source: Path, *, tensors: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        with safe_open(str(source), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(_METADATA_KEY)
            metadata = _check(_parse(raw, source), source)
            state = (
                {name: handle.get_tensor(name) for name in handle.keys()}
                if tensors
                else {}
            )
    except SafetensorError as err:
        raise ModelFormatError(
            f"{source}: not a readable safetensors file ({err})"
        ) from None
    return metadata, state


def _read_checkpoint(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        content = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelFormatError(
            f"refused to load {source}: it is not a safetensors model and "
            "torch.load(weights_only=True) rejects it (it may hold pickled "
            f"objects: {first_line}). Only weights are ever loaded; save models "
            "with ase_phonongnn.model.save_model"
        ) from None
    if not (
        isinstance(content, dict)
        and "metadata" in content
        and isinstance(content.get("state_dict"), dict)
    ):
        raise ModelFormatError(
            f"{source}: a torch checkpoint must hold {{'metadata', 'state_dict'}} "
            f"(got {sorted(content) if isinstance(content, dict) else type(content)})"
        )
    raw = content["metadata"]
    metadata = raw if isinstance(raw, dict) else _parse(raw, source)
    return _check(metadata, source), content["state_dict"]


def _parse(raw: Any, source: Path) -> dict[str, Any]:
    if raw is None:
        raise ModelFormatError(
            f"{source}: no {_METADATA_KEY!r} metadata; not an ase_phonongnn model"
        )
    try:
        metadata = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as err:
        raise ModelFormatError(f"{source}: unreadable model metadata ({err})") from None
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{source}: model metadata is not a JSON object")
    return metadata


def _check(metadata: dict[str, Any], source: Path) -> dict[str, Any]:
    if metadata.get("format") != FORMAT:
        raise ModelFormatError(
            f"{source}: format {metadata.get('format')!r} is not {FORMAT!r}"
        )
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFormatError(f"{source}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{source} has model format_version {version}, newer than the "
            f"{FORMAT_VERSION} that ase_phonongnn {__version__} reads (written by "
            f"ase_phonongnn {metadata.get('package_version', '?')}); upgrade "
            "ase_phonongnn: pip install --upgrade ase-phonongnn"
        )
    while version < FORMAT_VERSION:
        metadata = _MIGRATIONS[version](metadata)
        version = metadata["format_version"]
    key = metadata.get("model")
    if key not in MODELS:
        raise ModelFormatError(
            f"{source}: unknown model key {key!r}; this version knows "
            f"{', '.join(MODELS)}"
        )
    config = metadata.get("config")
    if not isinstance(config, dict) or config.get("model") != key:
        raise ModelFormatError(
            f"{source}: the metadata has no model config for model {key!r}"
        )
    _check_bounds(metadata, source)
    return metadata
