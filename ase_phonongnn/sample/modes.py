"""Commensurate phonon modes of a supercell and their thermal amplitudes.

The dynamical matrix of the supercell at its Γ point contains every phonon
commensurate with the supercell (all q of the primitive cell that the supercell
folds onto Γ). Diagonalising it directly gives real eigenvectors, handles
degeneracies without bookkeeping and costs nothing for the supercells of this
package (3N ≤ a few thousand). The three rigid translations are projected out
exactly, so no sampled snapshot moves the centre of mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import constants

from ase_phonongnn.errors import ForceConstantsError, ImaginaryModeError

Statistics = Literal["quantum", "classical"]

#: sqrt(eV / (Å² amu)) in THz (ordinary frequency), phonopy's VaspToTHz.
EV_ANGSTROM_AMU_TO_THZ: Final = float(
    np.sqrt(constants.eV / (constants.angstrom**2 * constants.atomic_mass))
    / (2 * np.pi * 1e12)
)
#: Frequencies below this (THz), imaginary ones included, count as unstable.
UNSTABLE_BELOW_THZ: Final = 1e-2
_AMU_ANGSTROM2: Final = constants.atomic_mass * constants.angstrom**2  # kg m²


def occupation_factor(
    frequencies: NDArray[np.float64], temperature: float, statistics: Statistics
) -> NDArray[np.float64]:
    """Return the mode variance σ² = ⟨Q²⟩ of normal coordinates, in amu·Å².

    quantum: σ² = ħ/(2ω) (1 + 2 n(ω, T)), n Bose–Einstein (zero-point at 0 K);
    classical: σ² = k_B T / ω².

    Parameters
    ----------
    frequencies
        Positive frequencies ν in THz, shape (n_modes,).
    temperature
        K, ≥ 0.
    statistics
        "quantum" or "classical".
    """
    omega = 2 * np.pi * 1e12 * np.asarray(frequencies, dtype=float)
    if statistics == "classical":
        variance = constants.k * temperature / omega**2
    else:
        if temperature > 0:
            x = constants.hbar * omega / (constants.k * temperature)
            coth = 1.0 / np.tanh(0.5 * x)
        else:
            coth = np.ones_like(omega)
        variance = constants.hbar / (2 * omega) * coth
    return np.asarray(variance / _AMU_ANGSTROM2, dtype=float)


@dataclass(frozen=True)
class ImaginaryPolicy:
    """What to do with imaginary (or zero) frequencies.

    Parameters
    ----------
    kind
        ``error`` (refuse), ``abs`` (use ``|ν|``), ``drop`` (leave the modes out)
        or ``floor`` (use ``max(|ν|, floor_thz)``: ``|ν|`` for imaginary modes, and
        no mode softer than the floor, so that no amplitude diverges).
    floor_thz
        The floor in THz, for ``kind="floor"`` only.
    """

    kind: Literal["error", "abs", "drop", "floor"] = "error"
    floor_thz: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("error", "abs", "drop", "floor"):
            raise ValueError(
                f"imaginary policy must be error, abs, drop or floor:<THz> "
                f"(got {self.kind!r})"
            )
        if self.kind == "floor":
            if self.floor_thz is None or not self.floor_thz > 0:
                raise ValueError(
                    f"imaginary policy floor needs a positive frequency in THz, "
                    f"e.g. 'floor:0.5' (got {self.floor_thz})"
                )
        elif self.floor_thz is not None:
            raise ValueError(f"only the floor policy takes a frequency ({self})")

    @classmethod
    def parse(cls, text: str | ImaginaryPolicy) -> ImaginaryPolicy:
        """Parse ``error``, ``abs``, ``drop`` or ``floor:<THz>`` (``floor=<THz>``)."""
        if isinstance(text, ImaginaryPolicy):
            return text
        if not isinstance(text, str):
            raise TypeError(f"imaginary policy must be a string (got {type(text)})")
        name, sep, value = text.replace("=", ":").partition(":")
        if name == "floor":
            try:
                floor = float(value)
            except ValueError:
                raise ValueError(
                    f"imaginary policy floor needs a frequency in THz, e.g. "
                    f"'floor:0.5' (got {text!r})"
                ) from None
            return cls("floor", floor)
        if sep:
            raise ValueError(f"only the floor policy takes a frequency (got {text!r})")
        return cls(name)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"floor:{self.floor_thz:g}" if self.kind == "floor" else self.kind


@dataclass(frozen=True)
class CommensurateModes:
    """Phonon modes of a supercell, rigid translations excluded.

    Attributes
    ----------
    frequencies
        ν in THz, shape (3N − 3,), ascending; imaginary modes are negative.
    eigenvectors
        Orthonormal mass-weighted eigenvectors e_λ(j, α), shape (3N − 3, N, 3).
    masses
        Atomic masses in amu, shape (N,).
    """

    frequencies: NDArray[np.float64]
    eigenvectors: NDArray[np.float64]
    masses: NDArray[np.float64]

    @classmethod
    def from_force_constants(
        cls, force_constants: NDArray[np.float64], masses: NDArray[np.float64]
    ) -> CommensurateModes:
        """Diagonalise the supercell dynamical matrix.

        Parameters
        ----------
        force_constants
            Full supercell force constants Φ(i, j, α, β) in eV/Å², shape
            (N, N, 3, 3).
        masses
            Masses in amu, shape (N,).
        """
        masses = np.asarray(masses, dtype=float)
        n = masses.size
        fc = np.asarray(force_constants, dtype=float)
        if fc.shape != (n, n, 3, 3):
            raise ForceConstantsError(
                f"force constants have shape {fc.shape}, expected ({n}, {n}, 3, 3) "
                f"for a supercell of {n} atoms"
            )
        inv_sqrt_m = np.repeat(1.0 / np.sqrt(masses), 3)
        dynmat = fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
        dynmat = 0.5 * (dynmat + dynmat.T) * np.outer(inv_sqrt_m, inv_sqrt_m)
        # Orthonormal basis of the complement of the three mass-weighted rigid
        # translations: the translations are removed exactly, whatever the
        # acoustic sum rule of the force constants.
        translations = np.zeros((3 * n, 3))
        for alpha in range(3):
            translations[alpha::3, alpha] = np.sqrt(masses)
        q, _ = np.linalg.qr(translations, mode="complete")
        basis = q[:, 3:]
        values, vectors = np.linalg.eigh(basis.T @ dynmat @ basis)
        frequencies = np.sign(values) * np.sqrt(np.abs(values)) * EV_ANGSTROM_AMU_TO_THZ
        eigenvectors = (basis @ vectors).T.reshape(-1, n, 3)
        return cls(frequencies, np.ascontiguousarray(eigenvectors), masses)

    @property
    def n_unstable(self) -> int:
        """Number of modes below :data:`UNSTABLE_BELOW_THZ` (imaginary or zero)."""
        return int(np.count_nonzero(self.frequencies < UNSTABLE_BELOW_THZ))

    def effective(
        self, policy: ImaginaryPolicy
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """Apply an imaginary-mode policy.

        Returns
        -------
        frequencies
            Positive frequencies in THz to use for every mode, shape (n_modes,).
        used
            Which modes take part, shape (n_modes,).
        """
        nu = self.frequencies
        unstable = nu < UNSTABLE_BELOW_THZ
        if policy.kind == "floor":
            assert policy.floor_thz is not None  # validated by ImaginaryPolicy
            return np.maximum(np.abs(nu), policy.floor_thz), np.ones(nu.size, bool)
        if policy.kind == "drop":
            return np.where(unstable, 1.0, nu), ~unstable
        if policy.kind == "abs":
            zero = np.abs(nu) < UNSTABLE_BELOW_THZ
            if zero.any():
                raise ImaginaryModeError(
                    f"{int(zero.sum())} modes have |frequency| < "
                    f"{UNSTABLE_BELOW_THZ} THz, which 'abs' cannot use: choose "
                    "imaginary='floor:<THz>' or 'drop'"
                )
            return np.abs(nu), np.ones(nu.size, bool)
        if unstable.any():
            raise ImaginaryModeError(
                f"{int(unstable.sum())} of {nu.size} commensurate modes are "
                f"imaginary or zero (lowest {nu.min():.3f} THz): pass "
                "imaginary='abs', 'drop' or 'floor:<THz>', or renormalise the "
                "force constants at this temperature (ase_phonongnn.sample."
                "renormalise)"
            )
        return nu, np.ones(nu.size, bool)

    def displacement_modes(
        self, temperature: float, statistics: Statistics, policy: ImaginaryPolicy
    ) -> NDArray[np.float64]:
        """Return σ_λ e_λ(j)/√m_j for every used mode, in Å, shape (n_used, N, 3).

        A snapshot is ``Σ_λ ξ_λ c_λ`` for normal coordinates ξ_λ of unit
        variance; the thermal covariance is ``Σ_λ c_λ ⊗ c_λ``.
        """
        frequencies, used = self.effective(policy)
        sigma = np.sqrt(occupation_factor(frequencies[used], temperature, statistics))
        return (
            sigma[:, None, None]
            * self.eigenvectors[used]
            / np.sqrt(self.masses)[None, :, None]
        )

    @cached_property
    def summary(self) -> dict[str, float | int]:
        """Counts and extremes of the spectrum, for reports."""
        return {
            "n_modes": int(self.frequencies.size),
            "n_unstable": self.n_unstable,
            "lowest_thz": float(self.frequencies.min()),
            "highest_thz": float(self.frequencies.max()),
        }
