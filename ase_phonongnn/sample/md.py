"""Thermal snapshots from Langevin molecular dynamics with any ASE calculator.

The reference that needs neither force constants nor an imaginary-mode
policy: the structure is equilibrated at each temperature with ASE's
Langevin thermostat, the decorrelation time of the atomic displacements is
measured on a pilot run, and snapshots are taken that far apart, so that
they are (nearly) independent. Classical statistics: compare with phonon
sampling at ``statistics="classical"``.

The decorrelation time is the lag after which the autocorrelation envelope
of the mass-weighted displacements' principal components (the normal modes
of a harmonic crystal) falls below 1/e (:func:`decorrelation_lag`): how long
a mode keeps its amplitude and phase, set by the thermostat's friction and
by anharmonic scattering, not by how fast modes of different frequencies
dephase.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import BaseCalculator
from ase.constraints import FixCom
from ase.md import velocitydistribution
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary
from ase.neighborlist import neighbor_list
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ase_phonongnn import __version__, keys

_log = logging.getLogger(__name__)


def _thermalize(atoms: Atoms, temperature: float, rng: Any) -> None:
    """Draw Maxwell-Boltzmann momenta at ``temperature`` K with ASE.

    ``thermalize_momenta`` from ASE 3.29 on, where it replaces the deprecated
    ``MaxwellBoltzmannDistribution`` (the same draw).
    """
    draw = getattr(velocitydistribution, "thermalize_momenta", None)
    if draw is not None:
        draw(atoms, temperature, rng=rng)
    else:
        velocitydistribution.MaxwellBoltzmannDistribution(
            atoms, temperature_K=temperature, rng=rng
        )


#: ``atoms.info`` keys of the MD provenance besides method, temperature, seed.
TIMESTEP_FS = "md_timestep_fs"
FRICTION_PER_FS = "md_friction_per_fs"
INTERVAL_STEPS = "md_interval_steps"
DECORRELATION_FS = "md_decorrelation_fs"
EQUILIBRATION_STEPS = "md_equilibration_steps"
CALCULATOR = "md_calculator"


@dataclass(frozen=True)
class MDSamplingConfig:
    """Settings of :func:`md_snapshots`.

    Parameters
    ----------
    timestep
        Time step in fs (default 2 fs: Ag, S and halogens are heavy).
    friction
        Langevin friction in 1/fs (default 0.01: a 100 fs coupling time).
    equilibration
        Steps run at each temperature before anything is measured.
    pilot
        Steps of the run on which the decorrelation time is measured.
    interval
        Steps between snapshots; None measures it on the pilot run.
    max_energy_spread
        Stop a run where the calculator's energy spread (``energy_std``, as
        a committee such as :class:`~ase_phonongnn.calculator.PhononGNNCalc`
        reports it) exceeds this many eV/atom: the model has left its data,
        and its forces no longer follow the labeller's. None (default): no
        check; a calculator without ``energy_std`` is never stopped by it.
    """

    timestep: float = 2.0
    friction: float = 0.01
    equilibration: int = 1000
    pilot: int = 1000
    interval: int | None = None
    max_energy_spread: float | None = None

    def __post_init__(self) -> None:
        checks = {
            "timestep": self.timestep > 0,
            "friction": self.friction > 0,
            "equilibration": self.equilibration >= 0,
            "pilot": self.pilot >= 10,
            "interval": self.interval is None or self.interval >= 1,
            "max_energy_spread": self.max_energy_spread is None
            or self.max_energy_spread > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(
                    f"{name} is out of range (got {getattr(self, name)!r}): "
                    "timestep and friction > 0, equilibration >= 0, pilot >= 10 "
                    "steps, interval >= 1 step or None, max_energy_spread > 0 "
                    "eV/atom or None"
                )


def decorrelation_lag(
    displacements: NDArray[np.float64], masses: NDArray[np.float64] | None = None
) -> int:
    """Lag (in frames) at which the displacements' correlation envelope falls below 1/e.

    The mass-weighted displacements are split into principal components (the
    normal modes, for a harmonic crystal); the envelope of each component's
    autocorrelation comes from its analytic signal, so that neither a mode's
    own oscillation nor the dephasing of different modes counts as
    decorrelation. The first lag at which the variance-weighted mean envelope
    falls below 1/e is returned (the envelope does not oscillate; past it a
    short run's estimate levels off at its noise floor).

    Parameters
    ----------
    displacements
        Positions of every frame of a run minus their mean, shape
        (n_frames, n_atoms, 3).
    masses
        Atomic masses, shape (n_atoms,); None weighs all atoms equally.

    Returns
    -------
    int
        At least 1; ``n_frames // 2`` when the correlation does not decay
        within half the run (a pilot run too short for the system).
    """
    from scipy.signal import hilbert

    u = np.asarray(displacements, dtype=np.float64)
    n = len(u)
    if masses is not None:
        u = u * np.sqrt(np.asarray(masses, dtype=np.float64))[None, :, None]
    x = u.reshape(n, -1)
    x = x - x.mean(axis=0)
    if not np.any(x):
        return 1
    _, singular, vt = np.linalg.svd(x, full_matrices=False)
    kept = singular > 1e-6 * singular[0]
    signal = hilbert(x @ vt[kept].T, axis=0)
    # autocorrelation of each component by FFT, zero-padded (no wrap-around)
    spectrum = np.fft.fft(signal, n=2 * n, axis=0)
    correlation = np.fft.ifft(np.abs(spectrum) ** 2, axis=0)[: n // 2]
    correlation /= (n - np.arange(n // 2))[:, None]
    envelope = np.abs(correlation).sum(axis=1) / np.abs(correlation[0]).sum()
    below = np.nonzero(envelope < math.exp(-1.0))[0]
    return int(max(1, below[0])) if below.size else n // 2


def md_snapshots(
    atoms: Atoms,
    calculator: BaseCalculator | Callable[[], BaseCalculator],
    temperatures: float | Sequence[float],
    n_snapshots: int,
    config: MDSamplingConfig | None = None,
    *,
    seed: int | None = None,
    calculator_name: str | None = None,
    progress: bool = True,
) -> list[Atoms]:
    """Sample decorrelated snapshots from Langevin MD at each temperature.

    Parameters
    ----------
    atoms
        Starting structure (e.g. the ideal supercell); not modified.
    calculator
        ASE calculator, or a function without arguments that returns one (a
        trained committee, ``PhononGNNCalc()``, is the cheap choice).
    temperatures
        Temperatures in K, each > 0; every one starts again from ``atoms``.
    n_snapshots
        Snapshots per temperature.
    config
        Time step, friction, equilibration, pilot and interval
        (default :class:`MDSamplingConfig`).
    seed
        Seed of the velocities and the thermostat; None draws one and records
        it.
    calculator_name
        Name recorded in the provenance (default: the calculator's class).
    progress
        Show a progress bar.

    Returns
    -------
    list of Atoms
        ``n_snapshots`` per temperature, in order, each with ``info``:
        ``method`` ("md"), ``temperature``, ``seed``, the time step, friction,
        interval, measured decorrelation time, equilibration steps and
        calculator; the centre of mass is kept where ``atoms`` has it.

    Raises
    ------
    MDCollapseError
        Where the run reaches non-finite positions, two atoms closer than
        0.5 Å, or an energy spread above ``config.max_energy_spread``
        (checked every 10 steps); its ``snapshots`` are those taken before.
    """
    config = config or MDSamplingConfig()
    temperature_list = [float(t) for t in np.atleast_1d(temperatures)]
    if not temperature_list or min(temperature_list) <= 0:
        raise ValueError(
            f"temperatures must be > 0 K (got {temperature_list}): MD at 0 K "
            "does not move; use the ideal structure"
        )
    if n_snapshots < 1:
        raise ValueError(f"n_snapshots must be >= 1 (got {n_snapshots})")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    calc = (
        calculator()
        if callable(calculator) and not isinstance(calculator, BaseCalculator)
        else calculator
    )
    name = calculator_name or type(calc).__name__
    snapshots: list[Atoms] = []
    for index, temperature in enumerate(temperature_list):
        rng = np.random.default_rng([seed, index])
        try:
            snapshots += _run(
                atoms,
                calc,
                temperature,
                n_snapshots,
                config,
                rng,
                progress,
                provenance={keys.SEED: seed, CALCULATOR: name},
            )
        except MDCollapseError as err:
            err.snapshots = snapshots + err.snapshots
            raise
    return snapshots


#: Closest approach (Å) below which an MD run has left the potential's domain.
COLLAPSE_DISTANCE = 0.5


class MDCollapseError(RuntimeError):
    """An MD run collapsed or left its model's data.

    It reached a non-finite state, atoms closer than 0.5 Å, or a committee
    energy spread above its limit. ``snapshots`` holds the snapshots taken
    before (every temperature).
    """

    def __init__(self, message: str, snapshots: Sequence[Atoms] = ()) -> None:
        super().__init__(message)
        self.snapshots: list[Atoms] = list(snapshots)


def _check_spread(
    system: Atoms, temperature: float, step: int, timestep: float, limit: float
) -> None:
    """Raise :class:`MDCollapseError` where the energy spread passed ``limit``."""
    results = getattr(system.calc, "results", {})
    if "energy_std" not in results:
        return
    spread = float(results["energy_std"]) / len(system)
    if not spread <= limit:
        raise MDCollapseError(
            f"MD at {temperature:g} K reached an energy spread of "
            f"{1000 * spread:.1f} meV/atom (limit {1000 * limit:g}) at step {step} "
            f"({step * timestep:g} fs): the model has left its training data; "
            "label frames of this run and retrain, or sample at a lower "
            "temperature"
        )


def check_physical(
    system: Atoms,
    temperature: float,
    step: int,
    timestep: float,
    cause: Exception | None = None,
) -> None:
    """Raise :class:`MDCollapseError` (from ``cause``) where an MD run collapsed.

    Parameters
    ----------
    system
        The atoms of the run, at its current step.
    temperature
        K, for the message.
    step
        The step reached, for the message.
    timestep
        fs, for the message.
    cause
        The exception that stopped the run, if one did (chained).

    Raises
    ------
    MDCollapseError
        Where a position is not finite or two atoms are closer than
        ``COLLAPSE_DISTANCE`` (0.5 Å).
    """
    positions = system.get_positions(wrap=False)
    finite = bool(np.isfinite(positions).all())
    closest = float("nan")
    if finite:
        distances = neighbor_list("d", system, COLLAPSE_DISTANCE)
        closest = float(distances.min()) if distances.size else float("inf")
    if not finite or closest < COLLAPSE_DISTANCE:
        where = (
            "non-finite positions" if not finite else f"a contact of {closest:.2f} Å"
        )
        raise MDCollapseError(
            f"MD at {temperature:g} K reached {where} at step {step} "
            f"({step * timestep:g} fs): the run collapsed (a time step too long "
            "for the potential, or a hole in it); lower the time step, or use a "
            "potential with short-range repulsion (ModelConfig(repulsion='zbl')) "
            "trained off the thermal ensemble"
        ) from cause


def langevin(
    atoms: Atoms,
    calc: BaseCalculator,
    temperature: float,
    timestep: float,
    friction: float,
    rng: np.random.RandomState,
) -> tuple[Atoms, Langevin]:
    """Return a copy of ``atoms`` at rest in its centre of mass and its Langevin run.

    Parameters
    ----------
    atoms
        Starting structure; not modified.
    calc
        ASE calculator of the copy.
    temperature
        Thermostat temperature in K; the velocities are drawn from
        Maxwell–Boltzmann at it, without net momentum.
    timestep
        Time step in fs.
    friction
        Langevin friction in 1/fs.
    rng
        Random state of the velocities and the thermostat.
    """
    system = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    system.calc = calc
    system.set_constraint(FixCom())
    _thermalize(system, temperature, rng)
    Stationary(system)
    dynamics = Langevin(
        system,
        timestep * units.fs,
        temperature_K=temperature,
        friction=friction / units.fs,
        fixcm=False,
        rng=rng,
    )
    return system, dynamics


def _run(
    atoms: Atoms,
    calc: BaseCalculator,
    temperature: float,
    n_snapshots: int,
    config: MDSamplingConfig,
    rng: np.random.Generator,
    progress: bool,
    provenance: dict[str, Any],
) -> list[Atoms]:
    legacy_rng = np.random.RandomState(int(rng.integers(2**31)))
    system, dynamics = langevin(
        atoms, calc, temperature, config.timestep, config.friction, legacy_rng
    )
    pilot_steps = 0 if config.interval is not None else config.pilot
    total = config.equilibration + pilot_steps + n_snapshots * (config.interval or 1)
    bar = tqdm(
        total=total, desc=f"MD {temperature:g} K", unit="step", disable=not progress
    )

    def advance(steps: int) -> None:
        try:
            for chunk in np.diff(np.r_[0:steps:10, steps]):
                try:
                    dynamics.run(int(chunk))
                except Exception as err:
                    # a calculator that fails on non-finite positions: the run
                    # collapsed within the chunk
                    check_physical(
                        system, temperature, dynamics.nsteps, config.timestep, err
                    )
                    raise
                bar.update(int(chunk))
                check_physical(system, temperature, dynamics.nsteps, config.timestep)
                if config.max_energy_spread is not None:
                    _check_spread(
                        system,
                        temperature,
                        dynamics.nsteps,
                        config.timestep,
                        config.max_energy_spread,
                    )
        except BaseException:
            bar.close()  # before the error is reported
            raise

    advance(config.equilibration)
    interval = config.interval
    if interval is None:
        frames = []
        for _ in range(pilot_steps):
            advance(1)
            frames.append(system.get_positions(wrap=False))
        positions = np.asarray(frames)
        interval = decorrelation_lag(
            positions - positions.mean(axis=0), system.get_masses()
        )
        if interval >= pilot_steps // 2:
            _log.warning(
                "MD at %g K: the displacements stay correlated over half the "
                "pilot run; snapshots are %d steps apart, at least: lengthen "
                "the pilot run to measure the decorrelation time",
                temperature,
                interval,
            )
        bar.total = total - n_snapshots + n_snapshots * interval
        bar.refresh()
    info = {
        keys.METHOD: "md",
        keys.TEMPERATURE: temperature,
        TIMESTEP_FS: config.timestep,
        FRICTION_PER_FS: config.friction,
        INTERVAL_STEPS: interval,
        DECORRELATION_FS: interval * config.timestep,
        EQUILIBRATION_STEPS: config.equilibration,
        keys.PACKAGE_VERSION: __version__,
        **provenance,
    }
    snapshots: list[Atoms] = []
    for _ in range(n_snapshots):
        try:
            advance(interval)
        except MDCollapseError as err:
            err.snapshots = snapshots
            raise
        snapshot = Atoms(
            system.numbers,
            system.get_positions(wrap=False),
            cell=system.cell,
            pbc=system.pbc,
        )
        snapshot.info.update(info)
        snapshots.append(snapshot)
    bar.close()
    return snapshots
