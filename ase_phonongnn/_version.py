"""Version of the ase_phonongnn distribution."""

from __future__ import annotations

__version__ = "0.1.0"
