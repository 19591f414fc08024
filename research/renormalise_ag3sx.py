"""Renormalise the shipped harmonic force constants of Ag3SBr/Ag3SI with GFN2-xTB.

Three stages, each resumable (checkpoints under research/<material>_<T>K_<stage>/):

1. ``floor:1.0``: imaginary modes sampled as 1 THz modes (moderate amplitudes
   while the spectrum is far from self-consistent; the SCF converges on them);
2. ``floor:0.5`` from the result of stage 1: imaginary modes sampled with |ω|,
   so that the soft modes reach the anharmonic walls that stabilise them;
3. the same policy with 40 snapshots per iteration and a fit that pools the
   last three iterations, to bring the sampling noise below the tolerance.

    python research/renormalise_ag3sx.py Ag3SBr 300 [WORKERS]

``--start-from Ag3SBr`` starts instead from the force constants that material
has shipped at the same temperature, moved onto this material's cell (same
atom order; the fixed point does not depend on the start, only the number of
iterations to reach it does). Ag3SI's harmonic spectrum (down to −6.4 THz)
is far worse a start than Ag3SBr's renormalised one, so it runs stages 2 and
3 only:

    python research/renormalise_ag3sx.py Ag3SI 300 2 --start-from Ag3SBr

``--pbesol`` renormalises with the GPAW labeller at PBEsol (forces only: one
plane-wave SCF per snapshot) into ``research/pbesol/renormalisation/``
(checkpoints, ``force-constants/`` and ``figures/``)::

    python research/renormalise_ag3sx.py Ag3SI 300 1 --start-from Ag3SBr --pbesol

``--start-from Ag3SBr@300`` starts from the force constants a material has
shipped at another temperature (the nearest fixed point is the best start).
Above 400 K a third of GFN2-xTB's SCFs fail even on the whole retry ladder
(about ten minutes each), and the ladder's rescued labels lie on another SCF
solution (docs/ag3sbr-findings.rst, research/scf_branch_check.py): runs
above 300 K try only its first rung, and a failed snapshot is left out of
the fit. At 300 K and below the script keeps the ladder, with which the
shipped 300 K force constants were fitted, so that it reproduces them:

    python research/renormalise_ag3sx.py Ag3SBr 500 1 --start-from Ag3SBr@300

The result goes to ``research/force-constants/<material>_<T>K_params.yaml.xz``
and ``..._history.json``, never into the package: shipping it is copying
both into ``ase_phonongnn/data/``.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.errors import ConvergenceError
from ase_phonongnn.label import GFN2xTB
from ase_phonongnn.label.gpaw import GPAWPBEsol
from ase_phonongnn.sample._phonopy import full_force_constants, load_phonopy
from ase_phonongnn.sample.force_constants import save_phonopy
from ase_phonongnn.sample.plots import plot_dispersions
from ase_phonongnn.sample.renormalise import RenormalisationConfig, renormalise

args = sys.argv[1:]
pbesol = "--pbesol" in args
if pbesol:
    args.remove("--pbesol")
donor = None
if "--start-from" in args:
    at = args.index("--start-from")
    donor = args[at + 1]
    del args[at : at + 2]
material, temperature = args[0], float(args[1])
donor_temperature = temperature
if donor is not None and "@" in donor:
    donor, at_temperature = donor.split("@")
    donor_temperature = float(at_temperature)
workers = int(args[2]) if len(args) > 2 else 2
stem = f"{material}_{round(temperature)}K"
runs = (
    Path(__file__).parent / "pbesol" / "renormalisation"
    if pbesol
    else Path(__file__).parent
)
runs.mkdir(parents=True, exist_ok=True)
start = force_constants_path(material)
if donor is not None:
    own = load_phonopy(start)
    given = load_phonopy(force_constants_path(donor, donor_temperature))
    if len(own.supercell) != len(given.supercell):
        raise SystemExit(f"{donor} and {material} supercells differ")
    own.force_constants = full_force_constants(given)
    start = save_phonopy(own, runs / f"{stem}_start_params.yaml")
# Stage 3 starts from the last iteration of stage 2.
stage2_iterations = 4 if donor else 8
stages = [
    ("stage1", "floor:1.0", 20, 1, 4, start),
    (
        "stage2",
        "floor:0.5",
        20,
        1,
        stage2_iterations,
        start if donor else runs / f"{stem}_stage1" / "iteration_003_params.yaml",
    ),
    # 20 snapshots per iteration left ~1 THz of fit noise on single soft
    # modes (stage 2 oscillated between 6 and 18 unstable modes): twice as
    # many, and the fit pools the data of the last three iterations; six
    # iterations at most, as the 300 K run (600 K did not come under 0.15 THz
    # in six: the changes stayed at 0.17-0.43 THz, the fit noise there).
    (
        "stage3",
        "floor:0.5",
        40,
        3,
        6,
        runs / f"{stem}_stage2" / f"iteration_{stage2_iterations - 1:03d}_params.yaml",
    ),
]
if donor is not None:
    stages = stages[1:]
# the 300 K force constants shipped before the first-rung-only rule
ladder = temperature <= 300 and not pbesol
labeller = GFN2xTB if ladder else partial(GFN2xTB, retry=False)
if pbesol:
    labeller = GPAWPBEsol  # forces only: one SCF per snapshot
history = {}
with ProcessPoolExecutor(workers) as executor:
    for name, policy, n_snapshots, pool, max_iterations, start in stages:
        config = RenormalisationConfig(
            temperature=temperature,
            n_snapshots=n_snapshots,
            max_iterations=max_iterations,
            mixing=0.5,
            tolerance_thz=0.15,
            imaginary=policy,
            seed=100 * len(history),
            pool=pool,
        )
        try:
            checkpoint = runs / f"{stem}_{name}"
            result = renormalise(start, labeller, config, executor, checkpoint)
        except ConvergenceError as err:
            result = err.result
            print(err)
        history[name] = {
            "config": config.to_dict(),
            "start": str(start.name),
            "converged": result.converged,
            "history": result.history,
        }
out = runs / "force-constants"
out.mkdir(exist_ok=True)
save_phonopy(result.phonon, out / f"{stem}_params.yaml.xz")
(out / f"{stem}_history.json").write_text(
    json.dumps(
        {
            "calculator": "gpaw" if pbesol else "gfn2-xtb",
            "retry_ladder": ladder,
            "start": (
                f"{donor}_{round(donor_temperature)}K_params.yaml.xz"
                f" on the {material} cell"
                if donor
                else f"{material}_harmonic_params.yaml.xz"
            ),
            "stages": history,
            "converged": result.converged,
        }
    )
)
figures = (runs if pbesol else runs.parent / "docs") / "figures"
figures.mkdir(parents=True, exist_ok=True)
plot_dispersions(
    {
        "harmonic": force_constants_path(material),
        f"{round(temperature)} K": result.phonon,
    },
    figures / f"{stem}_dispersions.png",
    title=f"{material}, {'PBEsol' if pbesol else 'GFN2-xTB'}: harmonic and at "
    f"{round(temperature)} K",
)
print("converged:", result.converged)
