"""ASE integration of ase_phonongnn: adapters over the public API.

- The calculator name ``phonongnn``: ``get_calculator_class("phonongnn")``
  returns :class:`~ase_phonongnn.PhononGNNCalc` (:func:`register_calculator`,
  run when this package is imported).
- The ``phonongnn-store`` format of ``ase.io``: ``ase.io.read("store.h5",
  ":")`` reads a snapshot store and ``ase.io.write("new.h5", images)``
  creates one (:mod:`.store_format`).

ASE imports this package by itself: the format is declared in the
``ase.ioformats`` entry point group, which ``ase.io`` loads on import, so in
an environment where ase-phonongnn is installed the calculator name is
registered as soon as ``ase.io`` is imported. Importing this package does
not import torch.
"""

from __future__ import annotations

from ase_phonongnn_plugins.ase.calculator import CALCULATOR_NAME, register_calculator
from ase_phonongnn_plugins.ase.store_format import (
    FORMAT_NAME,
    SNAPSHOT_STORE_FORMAT,
    read_phonongnn_store,
    write_phonongnn_store,
)

__all__ = [
    "CALCULATOR_NAME",
    "FORMAT_NAME",
    "SNAPSHOT_STORE_FORMAT",
    "read_phonongnn_store",
    "register_calculator",
    "write_phonongnn_store",
]

register_calculator()
