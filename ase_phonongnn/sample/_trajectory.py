"""MD trajectories for the MD renormalisation route: reading and checks.

Every check raises a :class:`ValueError` that says what differs and how to fix
it, before DynaPhoPy sees the data (DynaPhoPy prints and exits instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from ase import Atoms, units
from numpy.typing import ArrayLike, NDArray
from phonopy import Phonopy

Source = Literal["auto", "velocities", "positions"]


def read_frames(trajectory: str | Path | Sequence[Atoms], index: str) -> list[Atoms]:
    """Return the frames of a trajectory file (``ase.io.read``) or list."""
    if isinstance(trajectory, str | Path):
        import ase.io

        path = Path(trajectory)
        if not path.is_file():
            raise FileNotFoundError(f"trajectory file not found: {path}")
        frames = ase.io.read(path, index=index)
        return [frames] if isinstance(frames, Atoms) else list(frames)
    if isinstance(trajectory, Atoms):
        raise TypeError(
            "trajectory must be a file or a list of Atoms frames (got one Atoms)"
        )
    frames = list(trajectory)
    for i, frame in enumerate(frames):
        if not isinstance(frame, Atoms):
            raise TypeError(
                f"trajectory[{i}] must be an ase.Atoms (got {type(frame).__name__})"
            )
    return frames


def repetitions(phonon: Phonopy, multiple: ArrayLike | None) -> NDArray[np.int64]:
    """Return the repetitions of the unit cell (default: the fc supercell's)."""
    if multiple is None:
        matrix = np.asarray(phonon.supercell_matrix)
        if np.count_nonzero(matrix - np.diag(np.diag(matrix))):
            raise ValueError(
                "the force-constant supercell matrix is not diagonal "
                f"({matrix.tolist()}): give multiple= explicitly"
            )
        multiple = np.diag(matrix)
    reps = np.asarray(multiple)
    if reps.shape != (3,) or not np.allclose(reps, np.rint(reps)) or (reps < 1).any():
        raise ValueError(
            f"multiple must be three positive integers (got {np.asarray(multiple)})"
        )
    return np.asarray(np.rint(reps), dtype=np.int64)


def md_repetitions(phonon: Phonopy, frame: Atoms) -> NDArray[np.int64]:
    """Repetitions of the unit cell that make the MD cell of ``frame``."""
    unit = np.asarray(phonon.unitcell.cell)
    md = np.asarray(frame.cell.array)
    ratio = np.linalg.norm(md, axis=1) / np.linalg.norm(unit, axis=1)
    reps = np.rint(ratio)
    if (reps < 1).any() or not np.allclose(md, reps[:, None] * unit, atol=1e-3):
        raise ValueError(
            "the trajectory cell is not a diagonal multiple of the unit cell of the "
            f"force constants: cell {np.round(md, 4).tolist()} against unit cell "
            f"{np.round(unit, 4).tolist()} (length ratios {np.round(ratio, 4)}); "
            "run the MD on md_supercell(phonon) at the volume of the force "
            "constants"
        )
    return np.asarray(reps, dtype=np.int64)


def commensurate_points(phonon: Phonopy) -> NDArray[np.float64]:
    """q-points commensurate with the fc supercell, primitive reduced coordinates."""
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

    smat = np.rint(np.linalg.inv(phonon.primitive.primitive_matrix)).astype(int)
    return np.asarray(get_commensurate_points(smat), dtype=float)


def check_commensurate(phonon: Phonopy, reps: NDArray[np.int64]) -> None:
    """Every commensurate q of the force constants must fold onto the MD cell."""
    q_points = commensurate_points(phonon)
    # q in the unit cell's reciprocal basis times the repetitions is integer
    # when the MD cell folds q onto its Γ point.
    folded = q_points @ np.linalg.inv(np.asarray(phonon.primitive_matrix)) * reps
    bad = ~np.all(np.abs(folded - np.rint(folded)) < 1e-6, axis=1)
    if bad.any():
        raise ValueError(
            f"the MD cell ({'x'.join(str(int(r)) for r in reps)} unit cells) is not "
            "commensurate with the force-constant supercell "
            f"{np.asarray(phonon.supercell_matrix).tolist()}: q-points "
            f"{np.round(q_points[bad][:3], 4).tolist()} do not fold onto it; use "
            "an MD cell that is a multiple of the force-constant supercell"
        )


def match_frames(frames: list[Atoms], reference: Atoms, reorder: bool) -> list[Atoms]:
    """Check count, cell, order and species of the frames against ``reference``.

    Returns the frames, put into the order of ``reference`` when ``reorder``.
    """
    n = len(reference)
    counts = sorted({len(frame) for frame in frames})
    if counts != [n]:
        raise ValueError(
            f"the trajectory frames have {counts} atoms but the MD supercell of "
            f"the force constants has {n}: run the MD on md_supercell(phonon)"
        )
    cell = reference.cell.array
    for i, frame in enumerate(frames):
        if not np.allclose(frame.cell.array, cell, atol=1e-4):
            raise ValueError(
                f"frame {i} has cell {np.round(frame.cell.array, 4).tolist()}, "
                f"the supercell {np.round(cell, 4).tolist()}: the trajectory must "
                "be at constant cell (NVE or NVT)"
            )
    site = _nearest_site(frames[0], reference)
    if not np.array_equal(site, np.arange(n)):
        if len(set(site.tolist())) != n:
            distance = _distance_to_sites(frames[0], reference)
            worst = int(np.argmax(distance))
            raise ValueError(
                "the trajectory atoms do not sit on the sites of the supercell: "
                f"atom {worst} is {distance[worst]:.2f} Å from its site and no "
                "one-to-one match of atoms to sites exists (another structure, or "
                "a melted or diffusing crystal)"
            )
        if not reorder:
            moved = np.flatnonzero(site != np.arange(n))
            shown = ", ".join(f"atom {i} on site {site[i]}" for i in moved[:4])
            raise ValueError(
                f"the trajectory atoms are in another order than the supercell "
                f"({len(moved)} of {n} atoms elsewhere: {shown}); pass "
                "reorder=True or write the MD in the order of md_supercell(phonon)"
            )
        inverse = np.argsort(site)
        frames = [frame[inverse] for frame in frames]
    wrong = np.flatnonzero(frames[0].numbers != reference.numbers)
    if wrong.size:
        i = int(wrong[0])
        raise ValueError(
            f"the trajectory species differ from the supercell at {wrong.size} "
            f"sites: atom {i} is {frames[0][i].symbol} where the supercell has "
            f"{reference[i].symbol}"
        )
    for k, frame in enumerate(frames):
        if not np.array_equal(frame.numbers, reference.numbers):
            raise ValueError(
                f"frame {k} has other species or order than frame 0: every frame "
                "must hold the same atoms in the same order"
            )
    return frames


def velocities(frames: list[Atoms], source: Source) -> NDArray[np.float64] | None:
    """Return the stored velocities in Å/fs, shape (n_frames, N, 3), or None."""
    if source not in ("auto", "velocities", "positions"):
        raise ValueError(
            f"source must be auto, velocities or positions (got {source!r})"
        )
    if source == "positions":
        return None
    stored = None
    if all("momenta" in frame.arrays for frame in frames):
        velocity = [frame.get_velocities() for frame in frames]
        stored = np.array(velocity) * units.fs
        if not np.all(np.abs(stored).reshape(len(frames), -1).max(axis=1) > 0):
            stored = None
    if source == "velocities" and stored is None:
        raise ValueError(
            "source='velocities' but not every frame stores nonzero velocities "
            "(momenta); use source='positions' or write momenta with the frames"
        )
    return stored


def check_time_step(
    positions: NDArray[np.float64],
    velocity: NDArray[np.float64],
    cell: NDArray[np.float64],
    time_step: float,
) -> None:
    """Refuse a time step under which the positions do not move by about v·Δt.

    Parameters
    ----------
    positions
        Å, shape (n_frames, N, 3).
    velocity
        Å/fs, shape (n_frames, N, 3).
    cell
        Å, shape (3, 3).
    time_step
        fs between frames.
    """
    step = _mic((positions[1:] - positions[:-1]).reshape(-1, 3), cell)
    middle = 0.5 * (velocity[1:] + velocity[:-1]).reshape(-1, 3)
    moved = float(np.linalg.norm(step, axis=1).mean())
    expected = float(np.linalg.norm(middle, axis=1).mean()) * time_step
    ratio = moved / expected
    # Sparse frames shrink the ratio a little (chords of the orbit); a wrong
    # unit or a forgotten write interval changes it by a large factor.
    if not 0.5 < ratio < 2:
        raise ValueError(
            f"time_step={time_step} fs disagrees with the stored velocities: the "
            f"atoms move as if frames were {time_step * ratio:.3g} fs apart; give "
            "the time between stored frames (MD time step × write interval)"
        )


def kinetic_temperature(
    velocity: NDArray[np.float64], masses: NDArray[np.float64]
) -> float:
    """Return the mean 2 E_kin / ((3N − 3) k_B) in K; velocities in Å/fs."""
    v = velocity / units.fs  # ASE velocity units
    kinetic = 0.5 * np.einsum("j,tja->t", masses, v**2)
    dof = 3 * velocity.shape[1] - 3
    return float(np.mean(2 * kinetic / (dof * units.kB)))


def _mic(delta: NDArray[np.float64], cell: NDArray[np.float64]) -> NDArray[np.float64]:
    fractional = delta @ np.linalg.inv(cell)
    return np.asarray((fractional - np.rint(fractional)) @ cell)


def _distance_to_sites(frame: Atoms, reference: Atoms) -> NDArray[np.float64]:
    delta = _mic(frame.positions - reference.positions, reference.cell.array)
    return np.asarray(np.linalg.norm(delta, axis=1))


def _nearest_site(frame: Atoms, reference: Atoms) -> NDArray[np.int64]:
    """Index of the nearest supercell site of every atom (minimum image)."""
    delta = frame.positions[:, None, :] - reference.positions[None, :, :]
    distance = np.linalg.norm(_mic(delta.reshape(-1, 3), reference.cell.array), axis=1)
    return np.asarray(np.argmin(distance.reshape(len(frame), -1), axis=1))
