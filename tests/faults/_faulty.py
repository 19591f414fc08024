"""Fault injectors for the labelling tests: ASE's EMT that crashes, hangs or lies.

Each factory is usable as ``--calculator _faulty:NAME`` with this directory on
PYTHONPATH. Which structures fault is decided by their content hash, so a
test can tell in advance which snapshots must end up failed.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT

from ase_phonongnn.store import content_hash


def faults(atoms) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``atoms`` is one of the ~1 in 4 structures the injectors fault on."""
    return content_hash(atoms)[-1] in "0123"


class _FaultyEMT(EMT):
    def fault(self) -> None:
        raise NotImplementedError

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):  # type: ignore[no-untyped-def]
        super().calculate(atoms, properties, system_changes)
        if faults(self.atoms):
            self.fault()


class SegfaultingEMT(_FaultyEMT):
    """EMT whose process dies of SIGSEGV on the faulting structures."""

    def fault(self) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)


class HangingEMT(_FaultyEMT):
    """EMT that never returns on the faulting structures."""

    def fault(self) -> None:
        time.sleep(3600)


class NaNEMT(_FaultyEMT):
    """EMT that returns a NaN energy on the faulting structures."""

    def fault(self) -> None:
        self.results["energy"] = float("nan")


class NaNForcesEMT(_FaultyEMT):
    """EMT that returns one NaN force component on the faulting structures."""

    def fault(self) -> None:
        forces = np.array(self.results["forces"])
        forces[0, 0] = np.nan
        self.results["forces"] = forces


class FailingEMT(EMT):
    """EMT that fails on every structure, like an SCF that never converges."""

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):  # type: ignore[no-untyped-def]
        raise RuntimeError("SCF not converged in 250 cycles")
