"""The paper experiment (PAPER.md Fig. 4 and Table 1) on our data.

Used by ``benchmarks/paper_experiment.py``: :class:`ExperimentConfig` holds
the settings, :func:`run_experiment` runs or resumes the experiment.
"""

from __future__ import annotations

from .config import KINDS, QUICK, TEST_KINDS, ExperimentConfig
from .experiment import run_experiment

__all__ = ["KINDS", "QUICK", "TEST_KINDS", "ExperimentConfig", "run_experiment"]
