"""EMT that takes a fixed wall time per calculation: a stand-in for a slow labeller.

Used by the crash tests, which run ``phonongnn label --calculator
_slow_emt:SlowEMT`` in a subprocess with this directory on PYTHONPATH.
"""

from __future__ import annotations

import os
import time

from ase.calculators.emt import EMT


class SlowEMT(EMT):
    """ASE's EMT plus ``SLOW_EMT_DELAY`` seconds (default 0.1) per calculation."""

    def calculate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(float(os.environ.get("SLOW_EMT_DELAY", "0.1")))
        super().calculate(*args, **kwargs)
