"""Harmonic phonons of a model against its labeller's: Ag3SBr, 2×2×2 cell.

The labeller's force constants are the shipped GFN2-xTB ones
(``ase_phonongnn/data/Ag3SBr_harmonic_params.yaml.xz``: phonopy finite
displacements of 0.01 Å in the 2×2×2 supercell of the ideal cubic cell,
a = 4.793 Å). The model's are computed the same way, in the same supercell
and with phonopy's same displacements, with the model as the ASE calculator
in float64. Both are compared at the 8 wavevectors commensurate with the
2×2×2 cell (Γ, X, M, R and their stars), where the finite-displacement
force constants are exact up to anharmonicity: 120 frequencies, sorted per
wavevector. Reported, as in Loew et al., "Universal machine learning
interatomic potentials are ready for phonons" (npj Comput. Mater. 2025):

- the mean absolute error of the frequencies (THz), of all modes and of
  the real ones;
- the maximum frequency ω_max of both, and its error;
- imaginary modes (ν < -0.05 THz, phonopy's negative frequencies): their
  number, the lowest frequency, the fraction of modes that both call
  imaginary or both real, and whether both call the cell dynamically
  unstable.

(Thermal properties, which Loew et al. compare for stable crystals, are
left out: the cubic cell has imaginary modes in the labeller's phonons.)

Models: the shipped committee (its mean forces) at several displacement
steps, which shows how much the frequencies depend on the step, and each
member alone at the labeller's 0.01 Å; or the models given with
``--model``.

With ``--renormalise`` the committee also renormalises the phonons at 300 K
as the calculator of the self-consistent loop (the three stages of the
shipped GFN2-xTB run, ``research/renormalise_ag3sx.py``: floor 1 THz, then
0.5 THz, then 40 snapshots pooled over three iterations), from the shipped
harmonic force constants; its frequencies at the commensurate q are
compared with those of the shipped GFN2-xTB-renormalised 300 K force
constants (``Ag3SBr_300K_params.yaml.xz``) in the same way.

    python benchmarks/bench_phonons.py [--model PATH ...] [--steps 0.003 0.01 0.03]
    python benchmarks/bench_phonons.py --model m1 m2 ... --renormalise \
        --out benchmarks/results/phonons-smooth.json
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import phonopy
import torch
from _common import RESULTS, machine, write_json
from numpy.typing import NDArray
from phonopy import Phonopy
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

from ase_phonongnn import PhononGNNCalc
from ase_phonongnn.errors import ConvergenceError
from ase_phonongnn.model import named_model
from ase_phonongnn.sample import compute_force_constants
from ase_phonongnn.sample._phonopy import to_ase_atoms
from ase_phonongnn.sample.renormalise import RenormalisationConfig, renormalise

DATA = Path(__file__).resolve().parents[1] / "ase_phonongnn" / "data"
REFERENCE = DATA / "Ag3SBr_harmonic_params.yaml.xz"
RENORMALISED = DATA / "Ag3SBr_300K_params.yaml.xz"
#: frequencies below this (THz) are imaginary modes, above it real ones
IMAGINARY = -0.05
#: the labeller's displacement
LABELLER_STEP = 0.01
#: the stages of the shipped 300 K renormalisation: policy, snapshots per
#: iteration, iterations pooled in the fit, iterations at most
STAGES = (("floor:1.0", 20, 1, 4), ("floor:0.5", 20, 1, 8), ("floor:0.5", 40, 3, 4))


def frequencies(phonon: Phonopy, qpoints: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the sorted frequencies (n_q, n_modes) in THz (negative: imaginary)."""
    phonon.run_qpoints(qpoints)
    assert phonon.qpoints is not None
    return np.sort(np.asarray(phonon.qpoints.frequencies), axis=1)


def compare(
    model: NDArray[np.float64], reference: NDArray[np.float64]
) -> dict[str, Any]:
    """Return the figures of merit of ``model`` frequencies against ``reference``."""
    error = np.abs(model - reference)
    real = (model > IMAGINARY) & (reference > IMAGINARY)
    imaginary_model = model < IMAGINARY
    imaginary_reference = reference < IMAGINARY
    return {
        "mae_thz": float(error.mean()),
        "mae_real_modes_thz": float(error[real].mean()),
        "max_abs_error_thz": float(error.max()),
        "max_frequency_thz": float(model.max()),
        "max_frequency_error_thz": float(model.max() - reference.max()),
        "lowest_frequency_thz": float(model.min()),
        "n_imaginary": int(imaginary_model.sum()),
        "imaginary_agreement": float((imaginary_model == imaginary_reference).mean()),
        "unstable": bool(imaginary_model.any()),
        "stability_agrees": bool(imaginary_model.any() == imaginary_reference.any()),
        "frequencies_thz": np.round(model, 4).tolist(),
    }


def model_phonon(
    reference: Phonopy, models: Any, step: float
) -> tuple[Phonopy, PhononGNNCalc]:
    """Return phonopy force constants of ``models`` in the reference's supercell."""
    calc = PhononGNNCalc(models, device="cpu", dtype="float64")
    phonon = compute_force_constants(
        to_ase_atoms(reference.unitcell),
        reference.supercell_matrix,
        calc,
        distance=step,
        progress=False,
    )
    return phonon, calc


def model_renormalised(models: Any, temperature: float) -> tuple[Phonopy, list[Any]]:
    """Return force constants renormalised with ``models`` and each stage's history."""
    factory = partial(PhononGNNCalc, models, device="cpu", dtype="float64")
    phonon: Any = REFERENCE
    histories = []
    for k, (policy, n_snapshots, pool, iterations) in enumerate(STAGES):
        config = RenormalisationConfig(
            temperature=temperature,
            n_snapshots=n_snapshots,
            max_iterations=iterations,
            mixing=0.5,
            tolerance_thz=0.15,
            imaginary=policy,
            seed=100 * k,
            pool=pool,
        )
        try:
            result = renormalise(phonon, factory, config, progress=False)
        except ConvergenceError as err:
            result = err.result
        histories.append({"converged": result.converged, "history": result.history})
        phonon = result.phonon
    return phonon, histories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", nargs="+", default=None, help="model files (default: shipped)"
    )
    parser.add_argument(
        "--steps", nargs="+", type=float, default=[0.003, LABELLER_STEP, 0.03]
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--renormalise",
        action="store_true",
        help="also renormalise at 300 K with the committee (see the module doc)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "phonons.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reference = phonopy.load(str(REFERENCE), produce_fc=True, log_level=0)
    qpoints = get_commensurate_points(reference.supercell_matrix)
    expected = frequencies(reference, qpoints)
    paths = [Path(p) for p in (args.model or named_model("gfn2-xtb").members)]
    runs: list[dict[str, Any]] = []
    cases: list[tuple[str, Any, float]] = [
        ("committee" if len(paths) > 1 else paths[0].stem, paths, step)
        for step in args.steps
    ]
    if len(paths) > 1:
        cases += [(path.stem, path, LABELLER_STEP) for path in paths]
    for name, models, step in cases:
        phonon, calc = model_phonon(reference, models, step)
        norms = sorted({m.config.vector_norm for m in calc.models})
        row = {"model": name, "step": step, "vector_norm": norms}
        row.update(compare(frequencies(phonon, qpoints), expected))
        runs.append(row)
    renormalised: dict[str, Any] | None = None
    if args.renormalise:
        shipped = phonopy.load(str(RENORMALISED), produce_fc=True, log_level=0)
        phonon, histories = model_renormalised(paths, 300.0)
        renormalised = {
            "reference": RENORMALISED.name,
            "reference_frequencies_thz": np.round(
                frequencies(shipped, qpoints), 4
            ).tolist(),
            "stages": histories,
            **compare(frequencies(phonon, qpoints), frequencies(shipped, qpoints)),
        }
    result = {
        "benchmark": "harmonic phonons of a model against its labeller's",
        "machine": machine(),
        "reference": REFERENCE.name,
        "labeller_step": LABELLER_STEP,
        "qpoints": qpoints.tolist(),
        "reference_frequencies_thz": np.round(expected, 4).tolist(),
        "reference_max_frequency_thz": float(expected.max()),
        "reference_lowest_frequency_thz": float(expected.min()),
        "reference_n_imaginary": int((expected < IMAGINARY).sum()),
        "imaginary_threshold_thz": IMAGINARY,
        "runs": runs,
        "renormalised_300K": renormalised,
    }
    print(
        f"GFN2-xTB: {expected.size} modes at {len(qpoints)} q, ω_max "
        f"{expected.max():.2f} THz, lowest {expected.min():.2f} THz, "
        f"{result['reference_n_imaginary']} imaginary"
    )
    print(
        f"{'model':30s} {'step Å':>7s} {'MAE':>6s} {'MAE re':>6s} {'ω_max':>6s} "
        f"{'lowest':>7s} {'n_im':>5s} {'im agr':>6s}"
    )
    for row in runs:
        print(
            f"{row['model']:30s} {row['step']:7.3f} {row['mae_thz']:6.3f} "
            f"{row['mae_real_modes_thz']:6.3f} {row['max_frequency_thz']:6.2f} "
            f"{row['lowest_frequency_thz']:7.2f} {row['n_imaginary']:5d} "
            f"{row['imaginary_agreement']:6.3f}"
        )
    if renormalised is not None:
        print(
            f"renormalised at 300 K against GFN2-xTB's: MAE "
            f"{renormalised['mae_thz']:.3f} THz, lowest "
            f"{renormalised['lowest_frequency_thz']:.2f} THz, "
            f"{renormalised['n_imaginary']} imaginary, agreement "
            f"{renormalised['imaginary_agreement']:.3f}"
        )
    write_json(args.out, result)


if __name__ == "__main__":
    main()
