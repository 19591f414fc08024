"""Snapshots of the Ag3S(Br,I) family for PBEsol labelling, in chunks.

    python research/pbesol/sample.py

Writes research/pbesol/samples/<set>-part<k>.extxyz (seeded: re-running writes
the same files and skips those that exist); research/pbesol/label.sh labels them.

Sets (2×2×2 cells, 40 atoms):

- ``thermal-Ag3SI``: normal-mode snapshots of the shipped Ag3SI harmonic
  force constants at 300, 400, 500, 600 K, soft and imaginary modes floored
  at 0.5 THz; the SCF robustness set of the GPAW labeller.
- ``thermal-mixed``: Ag3SBr_x I_(1-x), x = 1/8 … 7/8, the Br sites made I at
  random in normal-mode snapshots of the shipped Ag3SBr force constants
  renormalised at each temperature (300–600 K), the cell scaled to Vegard's
  lattice parameter with the fractional displacements kept.
- ``random-Ag3SI``, ``random-Ag3SBr``, ``random-mixed``: the paper's eq. 2,
  a = 0.1 … 0.8 Å.
- ``off-ensemble-relaxed``: the same kinds about the family committee's
  relaxed low-symmetry structures (``relaxed_references.py``).
- ``phonon-Ag3SI``: normal modes (quantum statistics) of the Ag3SI force
  constants renormalised at 100 … 600 K through the family committee
  (``force-constants/Ag3SI_<T>K_model_al2``), soft modes floored at 0.5 THz
  where some stay unstable (100 and 200 K).
- ``phonon-Ag3SBr``: normal modes (quantum statistics) of the Ag3SBr force
  constants renormalised at 300 … 600 K through the family committee
  (``force-constants/Ag3SBr_<T>K_model_al3``; only 400 K met the 0.1 THz
  tolerance, the others are their last, stable iterations), and at 100 and
  200 K from the 300 K constants; soft modes floored at 0.5 THz.
- ``phonon-mixed``: Ag3SBr_x I_(1-x), x = 1/8 … 7/8, at 100 … 600 K, from
  :class:`~ase_phonongnn.sample.SolidSolutionSampler` over the PBEsol end
  members of ``phonon-Ag3SBr`` and ``phonon-Ag3SI`` (Φ(x) interpolated,
  each snapshot its own occupation and masses, Vegard cell); soft modes
  floored at 0.5 THz.
- ``off-ensemble``: for the potential, about the ideal cells of the family
  (Ag3SBr, Ag3SI and x = 1/8 … 7/8 at their Vegard lattice parameters, random
  occupation): small displacements (0.005–0.05 Å), isotropic strains of ±3 %
  and close contacts down to 2 Å, the kinds of
  :func:`ase_phonongnn.sample.off_ensemble_snapshots`.

Within a part the snapshots cycle through temperatures (or amplitudes) and
compositions, so a partly labelled store covers all of them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.sample import (
    OFF_ENSEMBLE_KINDS,
    PhononSampler,
    SolidSolutionSampler,
    off_ensemble_snapshots,
)
from ase_phonongnn.structures import solid_solution, substitute_iodine

SAMPLES = Path(__file__).with_name("samples")
FORCE_CONSTANTS = Path(__file__).with_name("force-constants")
PHONON_TEMPERATURES = (100.0, 200.0, 300.0, 400.0, 500.0, 600.0)
TEMPERATURES = (300.0, 400.0, 500.0, 600.0)
AMPLITUDES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
IODINE_SITES = tuple(range(1, 8))  # of 8 halogen sites: x = 7/8 ... 1/8
PART = 10


def thermal_ag3si(part: int) -> list[Atoms]:
    """Part ``part`` of the ``thermal-Ag3SI`` set."""
    frames = []
    for i, t in zip(range(PART), itertools.cycle(TEMPERATURES), strict=False):
        sampler = PhononSampler.from_file(force_constants_path("Ag3SI"))
        frames += sampler.sample(
            t, 1, "normal-mode", imaginary="floor:0.5", seed=1000 * part + i
        )
    return frames


def thermal_mixed(part: int) -> list[Atoms]:
    """Part ``part`` of the ``thermal-mixed`` set."""
    frames = []
    pairs = itertools.cycle(itertools.product(IODINE_SITES, TEMPERATURES))
    for i, (n_iodine, t) in zip(
        range(PART), itertools.islice(pairs, 3 * part, None), strict=False
    ):
        seed = 2000 * part + i
        sampler = PhononSampler.from_file(force_constants_path("Ag3SBr", t))
        (atoms,) = sampler.sample(t, 1, "normal-mode", imaginary="floor:0.5", seed=seed)
        mixed = substitute_iodine(atoms, n_iodine, np.random.default_rng(seed))
        mixed.info.update(atoms.info)
        mixed.info["iodine_seed"] = seed
        frames.append(mixed)
    return frames


def _random(n_iodine: Callable[[int], int]) -> Callable[[int], list[Atoms]]:
    def make(part: int) -> list[Atoms]:
        sampler = PhononSampler.from_file(force_constants_path("Ag3SBr"))
        frames = []
        for i, a in zip(range(PART), itertools.cycle(AMPLITUDES), strict=False):
            seed = 3000 * part + i
            (atoms,) = sampler.sample(0.0, 1, "random", amplitude=a, seed=seed)
            k = n_iodine(i)
            if k:
                mixed = substitute_iodine(atoms, k, np.random.default_rng(seed))
                mixed.info.update(atoms.info)
                mixed.info["iodine_seed"] = seed
                atoms = mixed
            frames.append(atoms)
        return frames

    return make


def off_ensemble_relaxed(part: int) -> list[Atoms]:
    """Part ``part`` of the ``off-ensemble-relaxed`` set."""
    references: list[Atoms] = list(read(SAMPLES / "relaxed-references.extxyz", ":"))
    pairs = itertools.cycle(
        itertools.product(OFF_ENSEMBLE_KINDS, range(len(references)))
    )
    frames = []
    for i, (kind, k) in zip(
        range(PART), itertools.islice(pairs, PART * part, None), strict=False
    ):
        (atoms,) = off_ensemble_snapshots(
            references[k], 1, (kind,), seed=7000 * part + i
        )
        atoms.info["off_ensemble_reference"] = k
        frames.append(atoms)
    return frames


def phonon_ag3si(part: int) -> list[Atoms]:
    """Part ``part`` of the ``phonon-Ag3SI`` set."""
    frames = []
    temperatures = itertools.islice(
        itertools.cycle(PHONON_TEMPERATURES), PART * part, None
    )
    for i, t in zip(range(PART), temperatures, strict=False):
        path = FORCE_CONSTANTS / f"Ag3SI_{t:.0f}K_model_al2_params.yaml.xz"
        sampler = PhononSampler.from_file(path)
        frames += sampler.sample(
            t, 1, "normal-mode", imaginary="floor:0.5", seed=5000 * part + i
        )
    return frames


def phonon_ag3sbr(part: int) -> list[Atoms]:
    """Part ``part`` of the ``phonon-Ag3SBr`` set."""
    frames = []
    temperatures = itertools.islice(
        itertools.cycle(PHONON_TEMPERATURES), PART * part, None
    )
    for i, t in zip(range(PART), temperatures, strict=False):
        constants = max(t, 300.0)
        path = FORCE_CONSTANTS / f"Ag3SBr_{constants:.0f}K_model_al3_params.yaml.xz"
        sampler = PhononSampler.from_file(path)
        frames += sampler.sample(
            t, 1, "normal-mode", imaginary="floor:0.5", seed=8000 * part + i
        )
    return frames


@functools.cache
def _pbesol_end_members() -> tuple[dict[float, PhononSampler], ...]:
    """Read the renormalised PBEsol constants of Ag3SBr (al3) and Ag3SI (al2)."""
    return tuple(
        {
            t: PhononSampler.from_file(
                FORCE_CONSTANTS / f"{material}_{t:.0f}K_model_{tag}_params.yaml.xz"
            )
            for t in temperatures
        }
        for material, tag, temperatures in (
            ("Ag3SBr", "al3", TEMPERATURES),
            ("Ag3SI", "al2", PHONON_TEMPERATURES),
        )
    )


def phonon_mixed(part: int) -> list[Atoms]:
    """Part ``part`` of the ``phonon-mixed`` set."""
    pairs = itertools.cycle(itertools.product(PHONON_TEMPERATURES, IODINE_SITES))
    frames = []
    for i, (t, n_iodine) in zip(
        range(PART), itertools.islice(pairs, PART * part, None), strict=False
    ):
        sampler = SolidSolutionSampler(1.0 - n_iodine / 8, *_pbesol_end_members())
        frames += sampler.sample(
            t, 1, "normal-mode", imaginary="floor:0.5", seed=9000 * part + i
        )
    return frames


def off_ensemble(part: int) -> list[Atoms]:
    """Part ``part`` of the ``off-ensemble`` set."""
    fractions = (1.0, 0.0, *(k / 8 for k in range(1, 8)))
    pairs = itertools.cycle(itertools.product(OFF_ENSEMBLE_KINDS, fractions))
    frames = []
    for i, (kind, x) in zip(
        range(PART), itertools.islice(pairs, PART * part, None), strict=False
    ):
        seed = 4000 * part + i
        reference = solid_solution(x, rng=np.random.default_rng(seed))
        (atoms,) = off_ensemble_snapshots(reference, 1, (kind,), seed=seed)
        atoms.info["bromine_fraction"] = reference.info["bromine_fraction"]
        frames.append(atoms)
    return frames


SETS: dict[str, Callable[[int], list[Atoms]]] = {
    "thermal-Ag3SI": thermal_ag3si,
    "thermal-mixed": thermal_mixed,
    "random-Ag3SI": _random(lambda i: 8),
    "random-Ag3SBr": _random(lambda i: 0),
    "random-mixed": _random(lambda i: IODINE_SITES[i % len(IODINE_SITES)]),
    "off-ensemble": off_ensemble,
    "phonon-Ag3SI": phonon_ag3si,
    "off-ensemble-relaxed": off_ensemble_relaxed,
    "phonon-Ag3SBr": phonon_ag3sbr,
    "phonon-mixed": phonon_mixed,
}


def main(n_parts: int = 6) -> None:
    """Write the first ``n_parts`` parts of every set that are not there yet."""
    SAMPLES.mkdir(exist_ok=True)
    for name, make in SETS.items():
        for part in range(n_parts):
            path = SAMPLES / f"{name}-part{part}.extxyz"
            if not path.exists():
                write(path, make(part))


if __name__ == "__main__":
    main()
