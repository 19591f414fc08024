"""Self-consistent effective harmonic force constants at a temperature.

Harmonic phonons of strongly anharmonic crystals (cubic Ag3SBr, Ag3SI) have
imaginary modes, so they cannot be sampled. At temperature T the crystal is
stabilised by anharmonicity; its effective harmonic force constants Φ(T) are
those whose thermal ensemble reproduces the forces of the true potential. The
stochastic self-consistent loop (the idea of stochastic TDEP and of the
self-consistent harmonic approximation) is:

1. draw ``n_snapshots`` thermal snapshots at T from the current Φ_k
   (normal-mode sampler; imaginary modes of the start handled by a policy),
2. compute forces with any ASE calculator,
3. fit Φ_fit to the displacement–force data with phonopy's symmetry-adapted
   least squares (symfc); with ``pool`` > 1 the data of the last ``pool``
   iterations enter the fit together, which averages the sampling noise
   that dominates near convergence,
4. mix Φ_{k+1} = (1 − α) Φ_k + α Φ_fit and repeat until the commensurate
   frequencies change by less than ``tolerance_thz``.

A purely harmonic potential is a fixed point: forces −Φ u are fitted exactly
by Φ. Every iteration is checkpointed to a directory, so that a killed run
resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from numpy.typing import NDArray
from phonopy import Phonopy
from tqdm.auto import tqdm

from ase_phonongnn._config import config_from_dict
from ase_phonongnn.errors import ConvergenceError, UserInputError
from ase_phonongnn.sample._phonopy import full_force_constants, load_phonopy
from ase_phonongnn.sample.force_constants import save_phonopy
from ase_phonongnn.sample.modes import ImaginaryPolicy
from ase_phonongnn.sample.sampler import PhononSampler

_log = logging.getLogger(__name__)

CalculatorFactory = Callable[[], Calculator]


@dataclass(frozen=True)
class RenormalisationConfig:
    """Settings of the self-consistent loop.

    Parameters
    ----------
    temperature
        K, > 0.
    n_snapshots
        Snapshots per iteration (even: they come in ± pairs).
    max_iterations
        Iteration limit; reaching it without convergence is an error.
    mixing
        α, the weight of the new fit, in (0, 1].
    tolerance_thz
        Convergence: largest change of a commensurate frequency, THz, between
        two iterations.
    statistics
        "quantum" or "classical".
    imaginary
        Policy for imaginary modes of the current force constants when drawing
        snapshots (the harmonic start usually has many).
    seed
        Seed of iteration 0; iteration k uses ``seed + k``.
    pool
        Number of most recent iterations (the current one included) whose
        displacement–force data are fitted together. Once the spectrum is
        near self-consistency the recent ensembles are nearly the same, and
        pooling them divides the variance of the fit by about ``pool``.
    """

    temperature: float
    n_snapshots: int = 40
    max_iterations: int = 15
    mixing: float = 0.5
    tolerance_thz: float = 0.1
    statistics: str = "quantum"
    imaginary: str = "abs"
    seed: int = 0
    pool: int = 1

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(
                f"temperature must be positive in K (got {self.temperature})"
            )
        if self.n_snapshots < 2 or self.n_snapshots % 2:
            raise ValueError(
                f"n_snapshots must be an even number >= 2 (got {self.n_snapshots})"
            )
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1 (got {self.max_iterations})")
        if not 0 < self.mixing <= 1:
            raise ValueError(f"mixing must be in (0, 1] (got {self.mixing})")
        if not self.tolerance_thz > 0:
            raise ValueError(
                f"tolerance_thz must be positive (got {self.tolerance_thz})"
            )
        if self.statistics not in ("quantum", "classical"):
            raise ValueError(
                f"statistics must be quantum or classical ({self.statistics!r})"
            )
        if self.pool < 1:
            raise ValueError(f"pool must be >= 1 (got {self.pool})")
        ImaginaryPolicy.parse(self.imaginary)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenormalisationConfig:
        """Build from :meth:`to_dict` output; unknown keys are an error."""
        return config_from_dict(cls, data)


@dataclass
class RenormalisationResult:
    """Outcome of :func:`renormalise`.

    Attributes
    ----------
    phonon
        Phonopy object with the last mixed force constants.
    history
        One record per iteration: frequencies (THz, commensurate, ascending),
        number of unstable modes, lowest frequency, largest change, failed
        force calculations.
    converged
        Whether the last change was below the tolerance.
    """

    phonon: Phonopy
    history: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False

    def report(self) -> str:
        """One line per iteration, for logs and error messages."""
        lines = []
        for record in self.history:
            lines.append(
                f"iteration {record['iteration']}: {record['n_unstable']} unstable, "
                f"lowest {record['lowest_thz']:.3f} THz, max change "
                f"{record['max_change_thz']:.3f} THz, {record['n_failed']} failed"
            )
        return "\n".join(lines)


def renormalise(
    phonon: Phonopy | str | Path,
    calculator: CalculatorFactory,
    config: RenormalisationConfig,
    executor: Executor | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> RenormalisationResult:
    """Run the self-consistent loop for effective force constants at T.

    Parameters
    ----------
    phonon
        Starting force constants (usually harmonic): a Phonopy object or a
        phonopy_params.yaml.
    calculator
        Picklable zero-argument factory of an ASE calculator (a class works).
    config
        Loop settings.
    executor
        Optional executor that computes the forces of one iteration in
        parallel.
    checkpoint_dir
        Directory for ``iteration_<k>_params.yaml``, the displacement–force data
        of every iteration (``iteration_<k>_data.npz``, Å and eV/Å) and
        ``history.json``; an existing checkpoint there is resumed.
    progress
        Show progress bars. Each iteration's summary line goes to the
        ``ase_phonongnn`` log (INFO) either way.

    Returns
    -------
    RenormalisationResult
        Converged force constants and the history.

    Raises
    ------
    ConvergenceError
        When ``max_iterations`` pass without convergence; ``err.result`` holds
        the unconverged result and its history.
    """
    start = load_phonopy(phonon)
    result = RenormalisationResult(
        phonon=_copy_phonon(start, full_force_constants(start))
    )
    checkpoint = Path(checkpoint_dir) if checkpoint_dir is not None else None
    # Displacement-force data of the most recent iterations, for the pooled fit.
    recent: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    if checkpoint is not None:
        _resume(result, checkpoint, config)
        done = [record["iteration"] for record in result.history]
        recent = [
            load_iteration_data(checkpoint, [k])
            for k in done[len(done) - (config.pool - 1) :]
            if config.pool > 1 and (checkpoint / _data_name(k)).is_file()
        ]
    previous = (
        np.array(result.history[-1]["frequencies"])
        if result.history
        else PhononSampler.from_phonopy(result.phonon).modes.frequencies
    )
    for iteration in range(len(result.history), config.max_iterations):
        sampler = PhononSampler.from_phonopy(result.phonon)
        snapshots = sampler.sample(
            config.temperature,
            config.n_snapshots,
            statistics=config.statistics,  # type: ignore[arg-type]
            imaginary=config.imaginary,
            plus_minus=True,
            seed=config.seed + iteration,
        )
        forces, ok = compute_forces(snapshots, calculator, executor, progress)
        if ok.sum() < 2:
            raise ConvergenceError(
                f"iteration {iteration}: only {int(ok.sum())} of {len(snapshots)} "
                "force calculations succeeded; lower the temperature or use a "
                "floor policy"
            )
        u = np.array([s.positions for s in snapshots]) - sampler.supercell.positions
        recent = [*recent, (u[ok], forces[ok])][-config.pool :]
        fitted = fit_force_constants(
            result.phonon,
            np.concatenate([data[0] for data in recent]),
            np.concatenate([data[1] for data in recent]),
        )
        mixed = (1 - config.mixing) * sampler.force_constants + config.mixing * fitted
        result.phonon = _copy_phonon(result.phonon, mixed)
        frequencies = PhononSampler.from_phonopy(result.phonon).modes.frequencies
        change = float(np.max(np.abs(frequencies - previous)))
        previous = frequencies
        result.history.append(
            {
                "iteration": iteration,
                "frequencies": frequencies.tolist(),
                "n_unstable": int(np.count_nonzero(frequencies < 1e-2)),
                "lowest_thz": float(frequencies.min()),
                "max_change_thz": change,
                "n_failed": int((~ok).sum()),
                "n_snapshots": len(snapshots),
                "n_fitted": sum(len(data[0]) for data in recent),
            }
        )
        if checkpoint is not None:
            _save_checkpoint(result, checkpoint, config, u, forces)
        _log.info("%s", result.report().splitlines()[-1])
        if change < config.tolerance_thz:
            result.converged = True
            return result
    raise ConvergenceError(
        f"no convergence in {config.max_iterations} iterations at "
        f"{config.temperature} K (tolerance {config.tolerance_thz} THz):\n"
        + result.report(),
        result,
    )


def compute_forces(
    snapshots: Sequence[Atoms],
    calculator: CalculatorFactory,
    executor: Executor | None = None,
    progress: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Compute the forces of every snapshot, marking failures instead of raising.

    Returns
    -------
    forces
        eV/Å, shape (n, N, 3); NaN where the calculation failed.
    ok
        Which calculations succeeded, shape (n,).
    """
    jobs = [(calculator, atoms) for atoms in snapshots]
    results = (
        executor.map(_forces, jobs) if executor is not None else map(_forces, jobs)
    )
    forces = np.full((len(snapshots), len(snapshots[0]), 3), np.nan)
    for index, value in enumerate(
        tqdm(results, total=len(jobs), desc="forces", disable=not progress)
    ):
        if value is not None:
            forces[index] = value
    return forces, np.isfinite(forces).all(axis=(1, 2))


def fit_force_constants(
    phonon: Phonopy, displacements: NDArray[np.float64], forces: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Fit supercell force constants to displacement–force data with symfc.

    Parameters
    ----------
    phonon
        Defines the structure and symmetry.
    displacements, forces
        Å and eV/Å, shape (n, N, 3).

    Returns
    -------
    ndarray
        Full force constants, eV/Å², shape (N, N, 3, 3).
    """
    fit = Phonopy(
        phonon.unitcell,
        supercell_matrix=phonon.supercell_matrix,
        primitive_matrix=phonon.primitive_matrix,
        log_level=0,
    )
    fit.dataset = {"displacements": displacements, "forces": forces}
    fit.produce_force_constants(fc_calculator="symfc", show_drift=False)
    return full_force_constants(fit)


def load_iteration_data(
    directory: str | Path, iterations: Sequence[int]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Read the displacement–force data of checkpointed iterations.

    Parameters
    ----------
    directory
        A ``checkpoint_dir`` of :func:`renormalise`.
    iterations
        Which iterations to read.

    Returns
    -------
    displacements, forces
        Å and eV/Å, shape (n, N, 3), the snapshots whose force calculation
        succeeded, iterations concatenated in the given order.
    """
    displacements, forces = [], []
    for iteration in iterations:
        path = Path(directory) / _data_name(iteration)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist: iteration {iteration} was not "
                "checkpointed with its displacement-force data"
            )
        with np.load(path) as data:
            ok = np.isfinite(data["forces"]).all(axis=(1, 2))
            displacements.append(data["displacements"][ok])
            forces.append(data["forces"][ok])
    return np.concatenate(displacements), np.concatenate(forces)


def _data_name(iteration: int) -> str:
    return f"iteration_{iteration:03d}_data.npz"


def _forces(job: tuple[CalculatorFactory, Atoms]) -> NDArray[np.float64] | None:
    factory, atoms = job
    atoms = atoms.copy()
    atoms.calc = factory()
    try:
        return np.asarray(atoms.get_forces())
    except Exception:
        return None


def _copy_phonon(phonon: Phonopy, force_constants: NDArray[np.float64]) -> Phonopy:
    copy = Phonopy(
        phonon.unitcell,
        supercell_matrix=phonon.supercell_matrix,
        primitive_matrix=phonon.primitive_matrix,
        log_level=0,
    )
    copy.force_constants = force_constants
    return copy


def _save_checkpoint(
    result: RenormalisationResult,
    directory: Path,
    config: RenormalisationConfig,
    displacements: NDArray[np.float64],
    forces: NDArray[np.float64],
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    iteration = result.history[-1]["iteration"]
    save_phonopy(result.phonon, directory / f"iteration_{iteration:03d}_params.yaml")
    # The displacement-force data are the expensive part: keep them, so that
    # later fits can pool every iteration (forces are NaN where a calculation
    # failed).
    np.savez_compressed(
        directory / _data_name(iteration),
        displacements=displacements,
        forces=forces,
    )
    payload = {"config": config.to_dict(), "history": result.history}
    tmp = directory / "history.json.tmp"
    tmp.write_text(json.dumps(payload))
    tmp.replace(directory / "history.json")


def _resume(
    result: RenormalisationResult, directory: Path, config: RenormalisationConfig
) -> None:
    path = directory / "history.json"
    if not path.is_file():
        return
    payload = json.loads(path.read_text())
    # Only the iteration limit and the pooling of the fit may change between
    # runs (neither changes what was sampled); settings a checkpoint predates
    # count as their defaults.
    free = ("max_iterations", "pool")
    saved = RenormalisationConfig.from_dict(
        {k: v for k, v in payload["config"].items() if k not in free}
    ).to_dict()
    saved = {k: v for k, v in saved.items() if k not in free}
    wanted = {k: v for k, v in config.to_dict().items() if k not in free}
    if saved != wanted:
        raise UserInputError(
            f"checkpoint {directory} was made with other settings "
            f"({payload['config']}); use another checkpoint_dir"
        )
    history = payload["history"]
    if not history:
        return
    last = history[-1]["iteration"]
    params = directory / f"iteration_{last:03d}_params.yaml"
    result.phonon = load_phonopy(params)
    result.history = history
    if history[-1]["max_change_thz"] < config.tolerance_thz:
        result.converged = True
