"""Labelling: band gap, VBM, energy and stress of snapshots with ASE calculators."""

from __future__ import annotations

from ase_phonongnn.label.xtb import GFN2xTB, closed_shell_edges

__all__ = ["GFN2xTB", "closed_shell_edges"]
