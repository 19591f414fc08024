"""Periodic radius graphs of crystals with element node features.

:func:`build_graph` turns an ``ase.Atoms`` into a PyTorch Geometric ``Data``:
every atom a node, every pair closer than the cutoff (periodic images
included) an edge, integer cell shifts kept so that :func:`edge_vectors`
recomputes edge vectors differentiably from positions and cell.
:func:`build_graphs` makes the graphs of many structures as one PyG batch,
sharing one neighbour search among frames of the same cell.
"""

from __future__ import annotations

from ase_phonongnn.graph._batch import MAX_DISPLACEMENT_FRACTION, build_graphs
from ase_phonongnn.graph._build import (
    DEFAULT_CUTOFF,
    build_graph,
    check_cutoff,
    edge_vectors,
)
from ase_phonongnn.graph._elements import (
    ELEMENT_FEATURES,
    FEATURE_NAMES,
    FEATURE_SOURCE,
    FEATURE_UNITS,
    PAULING_ELECTRONEGATIVITY,
    element_features,
)

__all__ = [
    "DEFAULT_CUTOFF",
    "ELEMENT_FEATURES",
    "FEATURE_NAMES",
    "FEATURE_SOURCE",
    "FEATURE_UNITS",
    "MAX_DISPLACEMENT_FRACTION",
    "PAULING_ELECTRONEGATIVITY",
    "build_graph",
    "build_graphs",
    "check_cutoff",
    "edge_vectors",
    "element_features",
]
