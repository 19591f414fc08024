"""Snapshots off the thermal ensemble, so that a potential holds up near it.

A model trained on thermal snapshots alone knows nothing of what phonopy's
finite displacements, a relaxation, a cell filter or a hot MD run visit:
tiny displacements about a symmetric site, strained cells, and close
contacts. Four kinds of snapshot cover them, each drawn about one of the
reference structures (the ideal supercell, or relaxed low-symmetry ones):

- ``small``: every atom displaced by a Gaussian whose rms amplitude is drawn
  log-uniformly between two bounds (default 0.005–0.05 Å);
- ``strain``: the cell and positions scaled isotropically by a strain drawn
  uniformly within ±``strain`` (default 3 %), with small displacements;
- ``contact``: one nearest-neighbour pair pushed together along its bond to
  a distance drawn uniformly between ``contact`` (default 2.0 Å) and 90 % of
  its distance, both atoms moving alike, with small displacements;
- ``second-shell``: the same for a pair beyond the nearest-neighbour shell
  (farther than ``SHELL`` times the atom's nearest distance, within
  ``SECOND_SHELL_CUTOFF``): like-charged pairs such as S–Br or Ag–Ag, which
  a hot MD run can push together where no thermal snapshot goes.

The kinds are a registry, :data:`OFF_ENSEMBLE_KINDS`, of functions that take
a reference, the settings and a random generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_phonongnn import __version__, keys

#: ``atoms.info`` keys of the provenance besides method and seed.
KIND = "off_ensemble_kind"
REFERENCE = "off_ensemble_reference"
STRAIN = "off_ensemble_strain"
CONTACT = "off_ensemble_contact"
#: A neighbour farther than this many times an atom's nearest distance is
#: beyond its nearest-neighbour shell (``second-shell`` snapshots).
SHELL: Final = 1.15
#: Farthest pair (Å) that ``second-shell`` snapshots push together.
SECOND_SHELL_CUTOFF: Final = 4.5
#: The method name recorded in ``atoms.info["method"]``.
METHOD: Final = "off-ensemble"


@dataclass(frozen=True)
class OffEnsembleConfig:
    """Settings of :func:`off_ensemble_snapshots`.

    Parameters
    ----------
    amplitude
        Bounds (Å) of the rms displacement of ``small`` snapshots, drawn
        log-uniformly between them.
    strain
        Largest relative isotropic strain of ``strain`` snapshots.
    contact
        Shortest distance (Å) of the pair pushed together in ``contact`` and
        ``second-shell`` snapshots.
    rattle
        Rms displacement (Å) added to ``strain``, ``contact`` and
        ``second-shell`` snapshots.
    """

    amplitude: tuple[float, float] = (0.005, 0.05)
    strain: float = 0.03
    contact: float = 2.0
    rattle: float = 0.02

    def __post_init__(self) -> None:
        low, high = self.amplitude
        checks = {
            "amplitude": 0 < low <= high < 1,
            "strain": 0 < self.strain < 0.2,
            "contact": 0.5 < self.contact,
            "rattle": 0 <= self.rattle < 0.5,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"{name} is out of range (got {getattr(self, name)!r}): "
                    "amplitude (low, high) with 0 < low <= high < 1 Å, "
                    "0 < strain < 0.2, contact > 0.5 Å, 0 <= rattle < 0.5 Å"
                )


Drawer = Callable[[Atoms, OffEnsembleConfig, np.random.Generator], Atoms]


def _gaussian(atoms: Atoms, rms: float, rng: np.random.Generator) -> Atoms:
    """Copy of ``atoms`` with Gaussian displacements of rms length ``rms``."""
    out = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if rms > 0:
        out.positions += rng.normal(scale=rms / np.sqrt(3), size=out.positions.shape)
    return out


def _small(
    reference: Atoms, config: OffEnsembleConfig, rng: np.random.Generator
) -> Atoms:
    low, high = config.amplitude
    rms = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    out = _gaussian(reference, rms, rng)
    out.info[keys.AMPLITUDE] = rms
    return out


def _strain(
    reference: Atoms, config: OffEnsembleConfig, rng: np.random.Generator
) -> Atoms:
    strain = float(rng.uniform(-config.strain, config.strain))
    out = _gaussian(reference, config.rattle, rng)
    out.set_cell(reference.cell * (1 + strain), scale_atoms=True)
    out.info[STRAIN] = strain
    out.info[keys.AMPLITUDE] = config.rattle
    return out


def _push(
    out: Atoms,
    pair: tuple[int, int],
    vector: np.ndarray,
    config: OffEnsembleConfig,
    rng: np.random.Generator,
) -> Atoms:
    """Push ``pair`` (``vector`` from the first to the second) together."""
    d = float(np.linalg.norm(vector))
    target = float(rng.uniform(min(config.contact, 0.9 * d), 0.9 * d))
    shift = (d - target) / 2 * vector / d
    out.positions[pair[0]] += shift
    out.positions[pair[1]] -= shift
    out.info[CONTACT] = target
    out.info[keys.AMPLITUDE] = config.rattle
    return out


def _contact(
    reference: Atoms, config: OffEnsembleConfig, rng: np.random.Generator
) -> Atoms:
    out = _gaussian(reference, config.rattle, rng)
    i, j, vectors = neighbor_list("ijD", out, 6.0)
    if len(i) == 0:
        raise ValueError("contact snapshots need atoms within 6 Å of each other")
    distances = np.linalg.norm(vectors, axis=1)
    # a random atom and its nearest neighbour
    atom = int(rng.choice(np.unique(i)))
    own = np.nonzero(i == atom)[0]
    pair = own[np.argmin(distances[own])]
    return _push(out, (atom, int(j[pair])), vectors[pair], config, rng)


def _second_shell(
    reference: Atoms, config: OffEnsembleConfig, rng: np.random.Generator
) -> Atoms:
    out = _gaussian(reference, config.rattle, rng)
    i, j, vectors = neighbor_list("ijD", out, SECOND_SHELL_CUTOFF)
    distances = np.linalg.norm(vectors, axis=1)
    nearest = np.full(len(out), np.inf)
    np.minimum.at(nearest, i, distances)
    beyond = np.nonzero((distances > SHELL * nearest[i]) & (i != j))[0]
    if len(beyond) == 0:
        raise ValueError(
            "second-shell snapshots need pairs beyond the nearest-neighbour shell "
            f"within {SECOND_SHELL_CUTOFF} Å: use a larger supercell"
        )
    # a random atom with such a neighbour, and one of them
    atom = int(rng.choice(np.unique(i[beyond])))
    pair = int(rng.choice(beyond[i[beyond] == atom]))
    return _push(out, (atom, int(j[pair])), vectors[pair], config, rng)


#: Kinds of off-ensemble snapshot, by name.
OFF_ENSEMBLE_KINDS: Final[dict[str, Drawer]] = {
    "small": _small,
    "strain": _strain,
    "contact": _contact,
    "second-shell": _second_shell,
}


def off_ensemble_snapshots(
    references: Atoms | Sequence[Atoms],
    n_snapshots: int,
    kinds: Sequence[str] = tuple(OFF_ENSEMBLE_KINDS),
    config: OffEnsembleConfig | None = None,
    *,
    seed: int | None = None,
) -> list[Atoms]:
    """Draw snapshots of each kind about the reference structures.

    Parameters
    ----------
    references
        The ideal supercell, relaxed low-symmetry structures, or both; the
        snapshots of each kind take them in turn. Not modified.
    n_snapshots
        Snapshots per kind.
    kinds
        Names in :data:`OFF_ENSEMBLE_KINDS` (default: all).
    config
        Amplitudes, strain and contact distance (default
        :class:`OffEnsembleConfig`).
    seed
        Seed of the random generator; None draws one and records it.

    Returns
    -------
    list of Atoms
        ``n_snapshots`` per kind, kind after kind, each with ``info``:
        ``method`` ("off-ensemble"), the kind, the reference's index, its
        amplitude, strain or contact distance, the seed and the snapshot's
        index.
    """
    config = config or OffEnsembleConfig()
    refs = [references] if isinstance(references, Atoms) else list(references)
    if not refs:
        raise ValueError("references is empty: give the ideal supercell at least")
    unknown = [k for k in kinds if k not in OFF_ENSEMBLE_KINDS]
    if unknown:
        raise ValueError(
            f"kinds has unknown {unknown}: choose from {list(OFF_ENSEMBLE_KINDS)}"
        )
    if n_snapshots < 1:
        raise ValueError(f"n_snapshots must be >= 1 (got {n_snapshots})")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    snapshots: list[Atoms] = []
    for k, kind in enumerate(kinds):
        rng = np.random.default_rng([seed, k])
        for index in range(n_snapshots):
            reference = index % len(refs)
            atoms = OFF_ENSEMBLE_KINDS[kind](refs[reference], config, rng)
            provenance: dict[str, Any] = {
                keys.METHOD: METHOD,
                KIND: kind,
                REFERENCE: reference,
                keys.SEED: seed,
                keys.SNAPSHOT_INDEX: len(snapshots),
                keys.PACKAGE_VERSION: __version__,
            }
            atoms.info.update(provenance)
            snapshots.append(atoms)
    return snapshots
