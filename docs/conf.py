"""Sphinx configuration of the ase_phonongnn documentation."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ase_phonongnn._version import __version__  # noqa: E402

project = "ase_phonongnn"
author = "the ase_phonongnn developers"
copyright = "2026, the ase_phonongnn developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_static_path: list[str] = []

# The docstrings are numpy-style; types come from the signatures.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
# Cross-references to third-party classes in signatures stay plain text.
nitpicky = False
