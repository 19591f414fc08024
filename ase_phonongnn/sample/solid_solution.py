r"""Thermal snapshots of the solid solutions Ag3SBr_x I_(1-x).

A substitutional alloy has no phonons of its own to ship: each random Br/I
occupation of the supercell is a different crystal. :class:`SolidSolutionSampler`
draws, for every snapshot, a fresh occupation of the halogen sites
(:func:`~ase_phonongnn.structures.substitute_iodine`, Vegard cell) and
samples it from the end members' force constants interpolated in the
bromine fraction,

.. math:: \Phi(x) = x\,\Phi_{\mathrm{Ag_3SBr}} + (1 - x)\,\Phi_{\mathrm{Ag_3SI}},

with the occupation's own masses, so that a thermal average over the
snapshots is over occupations and displacements together. The interpolation
has the right limit at both ends; the documentation's PBEsol family page
checks it against GPAW forces of the solid solutions.

Written here rather than taken from a library: phonopy and hiphive fit or
sample one crystal's force constants, and neither mixes two crystals'.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms
from numpy.typing import NDArray

from ase_phonongnn import keys
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.sample._phonopy import make_phonopy
from ase_phonongnn.sample.config import SamplingConfig
from ase_phonongnn.sample.sampler import (
    PhononSampler,
    SnapshotSampler,
    check_request,
    nearest_sampler,
)
from ase_phonongnn.structures import BROMINE, IODINE, substitute_iodine

EndMember = PhononSampler | Mapping[float, PhononSampler]


class SolidSolutionSampler(SnapshotSampler):
    """Snapshots of Ag3SBr_x I_(1-x): a new occupation and Φ(x) per snapshot.

    :meth:`sample` takes the arguments of :meth:`PhononSampler.sample`; with
    ``plus_minus`` each occupation gives a ±u pair. The snapshots at T depend
    only on (seed, T); their ``info`` also holds the bromine fraction and the
    occupation's index, and the force-constant digest is that of the
    occupation's Φ(x).

    Parameters
    ----------
    bromine_fraction
        x in [0, 1]; the supercell gets round(x · n_halogen) Br sites, the
        rest I (``info["bromine_fraction"]`` records the realised x).
    bromide, iodide
        The end members' phonons on the same supercell (same sites, in the
        same order): a :class:`PhononSampler`, or ``{T_fc: sampler}`` with
        force constants renormalised at several temperatures (each snapshot
        then takes, per end member, those nearest its temperature).

    See Also
    --------
    SolidSolutionSampler.shipped : the end members that ship with the package.

    Examples
    --------
    >>> sampler = SolidSolutionSampler.shipped(0.5)
    >>> (atoms,) = sampler.sample(300.0, 1, imaginary="floor:0.5", seed=0)
    >>> atoms.get_chemical_formula()
    'Ag24Br4I4S8'
    """

    def __init__(
        self, bromine_fraction: float, bromide: EndMember, iodide: EndMember
    ) -> None:
        if not 0.0 <= float(bromine_fraction) <= 1.0:
            raise ValueError(
                f"bromine_fraction must be in [0, 1] (got {bromine_fraction})"
            )
        self._bromide = _by_temperature(bromide, "bromide")
        self._iodide = _by_temperature(iodide, "iodide")
        reference = next(iter(self._bromide.values())).supercell
        for name, group, halogen in (
            ("bromide", self._bromide, BROMINE),
            ("iodide", self._iodide, IODINE),
        ):
            for sampler in group.values():
                _check_supercell(sampler.supercell, reference, halogen, name)
        self._reference = reference
        n_halogen = int(np.count_nonzero(reference.numbers == BROMINE))
        self._n_iodine = n_halogen - round(float(bromine_fraction) * n_halogen)
        self._fraction = (n_halogen - self._n_iodine) / n_halogen

    @classmethod
    def shipped(cls, bromine_fraction: float) -> SolidSolutionSampler:
        """Use the force constants that ship (:mod:`ase_phonongnn.data`).

        Those renormalised at every temperature that ships for each end
        member, else its harmonic ones (read once per process).
        """
        return cls(bromine_fraction, *_shipped_end_members())

    @property
    def bromine_fraction(self) -> float:
        """The realised bromine fraction x of every occupation."""
        return self._fraction

    @property
    def supercell(self) -> Atoms:
        """The undisplaced Ag3SBr supercell whose halogen sites are occupied."""
        supercell: Atoms = self._reference.copy()
        return supercell

    def ideal_structure(self, rng: np.random.Generator | None = None) -> Atoms:
        """Return one random occupation of the supercell, undisplaced, Vegard cell.

        Parameters
        ----------
        rng
            Draws the occupation (default: a fresh generator).
        """
        return substitute_iodine(self._reference, self._n_iodine, rng)

    def force_constants_temperatures(self, temperature: float) -> tuple[float, float]:
        """Return the T_fc (K) of the bromide's and the iodide's constants used at T."""
        return (
            nearest_sampler(self._bromide, temperature)[0],
            nearest_sampler(self._iodide, temperature)[0],
        )

    def configuration(
        self, temperature: float, rng: np.random.Generator
    ) -> PhononSampler:
        """Return the phonons of one random occupation, with Φ(x) at T.

        Parameters
        ----------
        temperature
            K; selects each end member's force constants.
        rng
            Draws the occupation.
        """
        bromide = nearest_sampler(self._bromide, temperature)[1]
        iodide = nearest_sampler(self._iodide, temperature)[1]
        atoms = self.ideal_structure(rng)
        x = self._fraction
        force_constants = (
            x * bromide.force_constants + (1.0 - x) * iodide.force_constants
        )
        # a random occupation has next to no symmetry, and phonopy's search
        # for it would be most of the cost of a snapshot
        phonon = make_phonopy(
            atoms, np.eye(3, dtype=int), force_constants, symmetry=False
        )
        return PhononSampler.from_phonopy(phonon)

    def sample_config(
        self,
        temperature: float | Sequence[float],
        n_snapshots: int,
        config: SamplingConfig,
        seed: int | None = None,
    ) -> list[Atoms]:
        """Like :meth:`sample`, with the options as a :class:`SamplingConfig`."""
        temperatures, seed = check_request(temperature, n_snapshots, config, seed)
        per_occupation = 2 if config.plus_minus else 1
        snapshots: list[Atoms] = []
        for value in temperatures:
            streams = np.random.SeedSequence(
                seed, spawn_key=(round(float(value) * 1000),)
            ).spawn(n_snapshots // per_occupation)
            for index, stream in enumerate(streams):
                occupation, displacement = stream.spawn(2)
                phonons = self.configuration(
                    float(value), np.random.default_rng(occupation)
                )
                drawn = phonons.sample_config(
                    float(value),
                    per_occupation,
                    config,
                    seed=int(displacement.generate_state(1, np.uint64)[0] >> 1),
                )
                for offset, atoms in enumerate(drawn):
                    atoms.info.update(self._provenance(seed, index))
                    atoms.info[keys.SNAPSHOT_INDEX] = per_occupation * index + offset
                snapshots += drawn
        return snapshots

    def _provenance(self, seed: int, index: int) -> dict[str, Any]:
        return {
            keys.SEED: seed,
            keys.BROMINE_FRACTION: self._fraction,
            keys.OCCUPATION_INDEX: index,
        }


def _by_temperature(end_member: EndMember, name: str) -> dict[float, PhononSampler]:
    if isinstance(end_member, PhononSampler):
        return {0.0: end_member}
    if not isinstance(end_member, Mapping) or not end_member:
        raise TypeError(
            f"{name} must be a PhononSampler or a non-empty {{temperature: "
            f"PhononSampler}} (got {type(end_member).__name__})"
        )
    bad = [
        type(s).__name__
        for s in end_member.values()
        if not isinstance(s, PhononSampler)
    ]
    if bad:
        raise TypeError(f"{name} must map temperatures to PhononSampler (got {bad})")
    return {float(t): s for t, s in end_member.items()}


def _check_supercell(
    supercell: Atoms, reference: Atoms, halogen: int, name: str
) -> None:
    numbers: NDArray[np.int64] = np.where(
        reference.numbers == BROMINE, halogen, reference.numbers
    )
    same_sites = len(supercell) == len(reference) and np.allclose(
        supercell.get_scaled_positions(), reference.get_scaled_positions(), atol=1e-6
    )
    if not same_sites or not np.array_equal(supercell.numbers, numbers):
        raise ValueError(
            f"{name}'s supercell must have the bromide's sites in the same order, "
            f"Br sites as {'Br' if halogen == BROMINE else 'I'} (got "
            f"{supercell.get_chemical_formula()}, {len(supercell)} atoms)"
        )


@functools.cache
def _shipped_end_members() -> tuple[dict[float, PhononSampler], ...]:
    """Read the shipped constants of Ag3SBr and Ag3SI, ``{T_fc: sampler}`` each."""
    end_members = []
    for material in ("Ag3SBr", "Ag3SI"):
        temperatures = renormalised_temperatures(material)
        paths = {t: force_constants_path(material, t) for t in temperatures} or {
            0.0: force_constants_path(material)
        }
        end_members.append({t: PhononSampler.from_file(p) for t, p in paths.items()})
    return tuple(end_members)
