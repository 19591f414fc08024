"""Phonon-informed snapshots against MD on the same potential (Ag3SBr, 2×2×2).

    python research/ensemble_check.py 300 600

For each temperature: Langevin MD with the shipped default committee (1 fs
time step; a run that collapses records why), and normal-mode snapshots of
the shipped GFN2-xTB force constants renormalised at that temperature (the
nearest one that ships: 300 K below it; soft modes floored at 0.5 THz;
quantum and classical statistics). Per ensemble: per-species ⟨u²⟩ (Å², about
the ideal sites), the closest Ag–S and Ag–Ag contacts, and the committee's
band gap. Results are appended to research/ensemble_check.json (one record
per temperature; a temperature already there is skipped). An earlier run
with a 4 fs time step and 40 snapshots (research/ensemble_check-4fs.json)
left the committee's potential at 300 K: contacts of 0 Å and ⟨u²⟩ of 10³¹ Å².
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_phonongnn import PhononGNNCalc, predict
from ase_phonongnn.data import force_constants_path, renormalised_temperatures
from ase_phonongnn.model import named_model
from ase_phonongnn.sample import (
    MDCollapseError,
    MDSamplingConfig,
    PhononSampler,
    md_snapshots,
)

OUT = Path(__file__).with_name("ensemble_check.json")
MD = MDSamplingConfig(timestep=1.0, friction=0.01, equilibration=1000, pilot=1000)
N_MD = 30
N_PHONON = 200


def summary(snapshots: list[Atoms], ideal: Atoms) -> dict[str, object]:
    """Per-species ⟨u²⟩, closest contacts and predicted gaps of an ensemble."""
    u = np.array([a.positions - ideal.positions for a in snapshots])
    symbols = np.array(ideal.get_chemical_symbols())
    msd = {
        s: float(np.mean(np.sum(u[:, symbols == s] ** 2, axis=-1)))
        for s in dict.fromkeys(symbols)
    }
    contacts: dict[str, list[float]] = {"Ag-S": [], "Ag-Ag": []}
    for atoms in snapshots:
        i, j, d = neighbor_list("ijd", atoms, 4.0)
        pair = np.char.add(np.char.add(symbols[i], "-"), symbols[j])
        for name in contacts:
            contacts[name].append(float(d[pair == name].min()))
    gaps = predict(None, snapshots, progress=False)["band_gap"]
    return {
        "msd": msd,
        "closest": {
            k: [float(np.mean(v)), float(np.min(v))] for k, v in contacts.items()
        },
        "band_gap": [float(np.mean(gaps)), float(np.std(gaps))],
        "n": len(snapshots),
    }


def main(temperatures: list[float]) -> None:
    """Run the check at each temperature not yet in the output."""
    torch.set_num_threads(1)
    records = json.loads(OUT.read_text()) if OUT.exists() else []
    done = {r["temperature"] for r in records}
    for temperature in temperatures:
        if temperature in done:
            continue
        # the nearest temperature whose renormalised force constants ship
        shipped = min(
            renormalised_temperatures("Ag3SBr"), key=lambda t: abs(t - temperature)
        )
        sampler = PhononSampler.from_file(force_constants_path("Ag3SBr", shipped))
        ideal = sampler.supercell
        start = time.perf_counter()
        try:
            calc = PhononGNNCalc(compile_messages=True)
            md = md_snapshots(ideal, calc, temperature, N_MD, MD, seed=11)
        except MDCollapseError as err:
            record: dict[str, object] = {"temperature": temperature, "md": str(err)}
        else:
            record = {
                "temperature": temperature,
                "force_constants_temperature": shipped,
                "md": summary(md, ideal),
                "md_interval_fs": md[0].info["md_decorrelation_fs"],
            }
        record["committee"] = [m.name for m in named_model("default").members]
        record["md_timestep_fs"] = MD.timestep
        record["md_seconds"] = round(time.perf_counter() - start)
        for statistics in ("quantum", "classical"):
            snapshots = sampler.sample(
                temperature,
                N_PHONON,
                "normal-mode",
                statistics=statistics,
                imaginary="floor:0.5",
                seed=11,
            )
            record[f"phonon-{statistics}"] = summary(snapshots, ideal)
        records.append(record)
        OUT.write_text(json.dumps(records, indent=1) + "\n")
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main([float(t) for t in sys.argv[1:]] or [300.0])
