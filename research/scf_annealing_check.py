"""Check the shipped labels against tblite's SCF annealing.

GFN2-xTB's SCF can have more than one solution on a thermal snapshot of
Ag3SBr (``research/scf_branch_check.py``); which one the default SCF reaches
depends on its starting guess. tblite can start the SCF with hot electrons
and cool them to the labelling temperature (electronic-temperature
annealing), which tends to reach the lower solution. This script relabels
snapshots that way, on the first rung of the retry ladder with electrons
started at 3,000 K (50 cycles held, 50 cooling), and compares:

``--test``
    every labelled phonon-informed snapshot of ``research/train_default.py``'s
    test set, in a seeded random order, resuming: one JSON line per
    snapshot in ``scf_annealing_check.jsonl`` (its label and the annealed
    energy per atom, σh, band gap and VBM, or "failed"). With
    ``--summarise`` it then counts the labels that changed and scores the
    shipped committee on the relabelled snapshots against both.
``--failed N``
    N snapshots the first rung failed on, drawn at random from the store:
    does annealing converge them?

    python research/scf_annealing_check.py --test [--summarise]
    python research/scf_annealing_check.py --failed 12
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import GPa, Hartree
from scf_convergence_check import single_point

from ase_phonongnn import keys
from ase_phonongnn.data import dataset_path
from ase_phonongnn.label.xtb import RETRY_LADDER, closed_shell_edges
from ase_phonongnn.prediction import predict
from ase_phonongnn.store import SnapshotStore
from ase_phonongnn.train import hash_split, load_structures, regression_metrics

OUT = Path(__file__).parent / "scf_annealing_check.jsonl"
ANNEALED = {**RETRY_LADDER[0], "anneal_K": (3000.0, 50, 50)}
#: the labels compared, and the name of each in a JSON line
LABELS = {
    keys.ENERGY_PER_ATOM: "energy_per_atom",
    keys.HYDROSTATIC_STRESS: "hydrostatic_stress",
    keys.BAND_GAP: "band_gap",
    keys.VBM: "vbm",
}
#: a label changed when the annealed energy differs by more than this (eV/atom);
#: the same solution reproduces it to 6e-8 eV/atom (356 test snapshots)
CHANGED = 1e-5


def annealed_labels(atoms: Atoms) -> dict[str, float] | str:
    """Return the annealed SCF's labels of one snapshot, or "failed"."""
    try:
        result = single_point(atoms, ANNEALED)
    except RuntimeError:
        return "failed"
    virial = np.asarray(result.get("virial")) * Hartree
    vbm, cbm = closed_shell_edges(
        np.asarray(result.get("orbital-energies")) * Hartree,
        np.asarray(result.get("orbital-occupations")),
    )
    return {
        "energy_per_atom": float(result.get("energy")) * Hartree / len(atoms),
        "hydrostatic_stress": float(np.trace(virial) / 3 / atoms.get_volume() / GPa),
        "band_gap": cbm - vbm,
        "vbm": vbm,
    }


def phonon_test_set() -> list[Atoms]:
    """Return the labelled phonon-informed test snapshots of train_default.py."""
    stores = [dataset_path("phonon-Ag3SBr"), dataset_path("random-Ag3SBr")]
    per_store = [load_structures([s], skip_retried=True) for s in stores]
    structures = [a for group in per_store for a in group]
    split = hash_split(structures)
    return [structures[i] for i in split.test if i < len(per_store[0])]


def relabel_test_set() -> None:
    """Append one line per not yet relabelled test snapshot to OUT."""
    test = phonon_test_set()
    lines = OUT.read_text().splitlines() if OUT.exists() else []
    done = {json.loads(line)["hash"] for line in lines}
    order = np.random.default_rng(0).permutation(len(test))
    with OUT.open("a") as out:
        for k in order:
            atoms = test[k]
            digest = atoms.info[keys.CONTENT_HASH]
            if digest in done:
                continue
            start = time.perf_counter()
            line = {
                "hash": digest,
                "temperature": atoms.info[keys.TEMPERATURE],
                "label": {name: atoms.info[key] for key, name in LABELS.items()},
                "annealed": annealed_labels(atoms),
                "seconds": round(time.perf_counter() - start, 1),
            }
            out.write(json.dumps(line) + "\n")
            out.flush()


def summarise() -> None:
    """Print how many labels changed and the committee's R² against both."""
    rows = [json.loads(line) for line in OUT.read_text().splitlines()]
    converged = [r for r in rows if isinstance(r["annealed"], dict)]
    changed = [
        r
        for r in converged
        if abs(r["annealed"]["energy_per_atom"] - r["label"]["energy_per_atom"])
        > CHANGED
    ]
    print(
        f"{len(rows)} relabelled, {len(rows) - len(converged)} failed, "
        f"{len(changed)} changed"
    )
    for r in changed:
        print(
            " ",
            r["hash"][:12],
            r["temperature"],
            {
                n: (round(r["label"][n], 4), round(r["annealed"][n], 4))
                for n in LABELS.values()
            },
        )
    by_hash = {a.info[keys.CONTENT_HASH]: a for a in phonon_test_set()}
    structures = [by_hash[r["hash"]] for r in converged]
    committee = predict("default", structures, properties=list(LABELS))
    for key, name in LABELS.items():
        label = np.array([r["label"][name] for r in converged])
        annealed = np.array([r["annealed"][name] for r in converged])
        r2_label = regression_metrics(label, committee[key])["r2"]
        r2_annealed = regression_metrics(annealed, committee[key])["r2"]
        print(
            f"  {key}: committee R² {r2_label:.4f} against the labels, "
            f"{r2_annealed:.4f} against the annealed SCF"
        )


def rescue(n: int) -> None:
    """Print whether the annealed SCF converges on n failed snapshots."""
    with SnapshotStore.open(dataset_path("phonon-Ag3SBr")) as store:
        failed = store.read_atoms(status=keys.FAILED)
    for k in np.random.default_rng(1).permutation(len(failed))[:n]:
        atoms = failed[k]
        start = time.perf_counter()
        result = annealed_labels(atoms)
        print(
            atoms.info[keys.CONTENT_HASH][:12],
            atoms.info.get(keys.TEMPERATURE),
            "failed"
            if result == "failed"
            else f"converged, gap {result['band_gap']:.2f} eV",
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--summarise", action="store_true")
    parser.add_argument("--failed", type=int, metavar="N")
    args = parser.parse_args()
    if args.test:
        relabel_test_set()
    if args.summarise:
        summarise()
    if args.failed:
        rescue(args.failed)
