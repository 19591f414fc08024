"""Graph neural network models: the paper's GraphConv family and our potential.

Every model is a :class:`GraphModel` built from a :class:`ModelConfig` by key
through the closed registry :data:`MODELS`:

- ``paper-1`` ... ``paper-6``: :class:`PaperGraphConv`, the GraphConv models
  of Benítez et al. (2026), per-structure targets only;
- ``ours``: :class:`PotentialGNN`, a smooth invariant message-passing
  potential (distance-only :class:`Interaction` blocks, or PaiNN
  :class:`EquivariantInteraction` blocks with ``equivariant=True``):
  extensive energy with conservative forces and stress, and intensive heads
  for band gap, VBM and hydrostatic stress, pooled over the atoms by a
  readout from the closed registry :data:`READOUT_CLASSES` (``mean``,
  ``attention``, ``levels``, ``tight-binding``; a new one subclasses
  :class:`Readout`).

The call contract shared by all::

    out = model(batch, compute_forces=False, compute_stress=False)

``batch`` is a graph from :func:`ase_phonongnn.graph.build_graph` (with the
model's ``cutoff``) or a PyG batch of them; ``out`` maps
:mod:`ase_phonongnn.keys` names to tensors in physical units: each target
(B,), and for potentials ``energy`` (B,) eV, ``forces`` (n, 3) eV/Å and
``stress`` (B, 6) eV/Å³ on request. A graph may carry an optional
``edge_mask`` (E,) that weights each edge's message (0 removes the edge,
:meth:`GraphModel.edge_mask`); :mod:`ase_phonongnn.explain` uses it.

Models are saved as one safetensors file (:func:`save_model`) and loaded by
:func:`load_model`, which refuses anything but weights. The shipped models
have names (:func:`model_names`: ``gfn2-xtb``, alias ``default``) listed
with their digests, calibration, training data and level of theory in the
manifest ``ase_phonongnn/data/models.json`` (:func:`named_model`).
"""

from __future__ import annotations

from ase_phonongnn.model._base import EDGE_MASK, GraphModel
from ase_phonongnn.model._config import (
    MODEL_KEYS,
    READOUTS,
    REPULSIONS,
    VECTOR_NORMS,
    ModelConfig,
)
from ase_phonongnn.model._io import (
    FORMAT,
    FORMAT_VERSION,
    load_model,
    model_metadata,
    read_model_metadata,
    save_model,
)
from ase_phonongnn.model._manifest import (
    NamedModel,
    is_model_name,
    model_names,
    models_covering,
    named_model,
    read_manifest,
    sha256,
)
from ase_phonongnn.model._ours import (
    BesselBasis,
    EquivariantInteraction,
    Interaction,
    PolynomialEnvelope,
    PotentialGNN,
    ZBLRepulsion,
)
from ase_phonongnn.model._paper import (
    PAPER_ARCHITECTURES,
    PaperArchitecture,
    PaperGraphConv,
)
from ase_phonongnn.model._readouts import (
    N_LEVELS,
    READOUT_CLASSES,
    AttentionReadout,
    LevelsReadout,
    Readout,
    ReadoutInputs,
    TightBindingPooling,
)
from ase_phonongnn.model._registry import MODELS, build_model
from ase_phonongnn.model._tight_binding import N_ORBITALS, TightBindingReadout

__all__ = [
    "EDGE_MASK",
    "FORMAT",
    "FORMAT_VERSION",
    "MODELS",
    "MODEL_KEYS",
    "N_LEVELS",
    "N_ORBITALS",
    "PAPER_ARCHITECTURES",
    "READOUTS",
    "READOUT_CLASSES",
    "REPULSIONS",
    "VECTOR_NORMS",
    "AttentionReadout",
    "BesselBasis",
    "EquivariantInteraction",
    "GraphModel",
    "Interaction",
    "LevelsReadout",
    "ModelConfig",
    "NamedModel",
    "PaperArchitecture",
    "PaperGraphConv",
    "PolynomialEnvelope",
    "PotentialGNN",
    "Readout",
    "ReadoutInputs",
    "TightBindingPooling",
    "TightBindingReadout",
    "ZBLRepulsion",
    "build_model",
    "is_model_name",
    "load_model",
    "model_metadata",
    "model_names",
    "models_covering",
    "named_model",
    "read_manifest",
    "read_model_metadata",
    "save_model",
    "sha256",
]
