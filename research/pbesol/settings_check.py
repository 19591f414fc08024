"""GPAW PBEsol settings against the defaults on one thermal Ag3SI snapshot.

Writes one JSON line per setting to research/pbesol/settings_check.jsonl:
energy per atom, forces, band gap, VBM, hydrostatic stress, CPU seconds.
    python research/pbesol/settings_check.py [SETTING ...]
"""

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from ase_phonongnn.data import force_constants_path
from ase_phonongnn.label.gpaw import GPAWPBEsol
from ase_phonongnn.label.labels import compute_labels
from ase_phonongnn.sample.sampler import PhononSampler

OUT = Path(__file__).with_name("settings_check.jsonl")
SETTINGS = {
    "default": {},
    "h=0.25": {"h": 0.25},
    "h=0.16": {"h": 0.16},
    "tight-scf": {"convergence": {"energy": 1e-6, "density": 1e-6}},
    "strain=0.006": {"strain": 0.006},
    "basis=sz(dzp)": {"basis": "sz(dzp)"},
    "smearing=0.02": {"occupations": {"name": "fermi-dirac", "width": 0.02}},
    "pw-400eV": {"mode": {"name": "pw", "ecut": 400}},
    "pw-500eV": {"mode": {"name": "pw", "ecut": 500}},
    "pw-600eV": {"mode": {"name": "pw", "ecut": 600}},
}


SCALARS = ("energy_per_atom", "band_gap", "vbm", "hydrostatic_stress")


def main(names: list[str]) -> None:
    """Compute the settings ``names`` (default: all) not yet in the output."""
    sampler = PhononSampler.from_file(force_constants_path("Ag3SI"))
    atoms = sampler.sample(300, 1, method="paper", imaginary="floor:0.5", seed=7)[0]
    done = set()
    if OUT.exists():
        done = {json.loads(line)["setting"] for line in OUT.read_text().splitlines()}
    for name in names or list(SETTINGS):
        if name in done:
            continue
        start = time.process_time()
        labels, _ = compute_labels(atoms, GPAWPBEsol(**SETTINGS[name]))
        record = {
            "setting": name,
            "options": SETTINGS[name],
            "cpu_s": round(time.process_time() - start, 1),
            # peak resident set of this process so far (run one setting per
            # process for each setting's own)
            "peak_rss_mib": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            ),
            **{
                k: float(labels[k])
                for k in ("energy_per_atom", "band_gap", "vbm", "hydrostatic_stress")
            },
            "forces": np.asarray(labels["forces"]).round(5).tolist(),
        }
        with OUT.open("a") as stream:
            stream.write(json.dumps(record) + "\n")
        print(
            name,
            record["cpu_s"],
            record["energy_per_atom"],
            record["band_gap"],
            record["hydrostatic_stress"],
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
