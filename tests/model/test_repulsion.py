"""The ZBL pair repulsion that ``ours`` can add to its energy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _painn import CUTOFF, random_painn
from ase import Atoms, units
from ase.data import covalent_radii

from ase_phonongnn import keys
from ase_phonongnn.graph import build_graph
from ase_phonongnn.model import (
    ModelConfig,
    build_model,
    load_model,
    named_model,
    read_model_metadata,
    save_model,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: e²/(4πε₀) in eV·Å
COULOMB = units._e / (4 * np.pi * units._eps0) * 1e10


def dimer(distance: float) -> Atoms:
    """Ag and S ``distance`` apart along x in a 12 Å periodic box."""
    return Atoms(
        "AgS",
        positions=[[0.0, 0.0, 0.0], [distance, 0.0, 0.0]],
        cell=np.eye(3) * 12.0,
        pbc=True,
    )


def energy_and_forces(model, atoms: Atoms) -> tuple[float, np.ndarray]:
    graph = build_graph(atoms, cutoff=CUTOFF, dtype=torch.float64)
    out = model(graph, compute_forces=True)
    return float(out[keys.ENERGY][0].detach()), out[keys.FORCES].detach().numpy()


def test_atoms_pushed_to_1_2_angstrom_repel_strongly():
    # same weights, with and without the repulsion
    bare, repelled = random_painn(repulsion="none"), random_painn(repulsion="zbl")
    _, bare_forces = energy_and_forces(bare, dimer(1.2))
    energy_gap = energy_and_forces(repelled, dimer(1.2))[0]
    energy_gap -= energy_and_forces(bare, dimer(1.2))[0]
    _, forces = energy_and_forces(repelled, dimer(1.2))
    # S (at +x) is pushed to +x, Ag to -x, by ~200 eV/Å; without the
    # repulsion the untrained network gives a fraction of an eV/Å
    assert forces[1, 0] > 100.0 and forces[0, 0] < -100.0
    assert np.abs(bare_forces).max() < 10.0
    assert 30.0 < energy_gap < 100.0  # eV, ZBL for Ag-S at 1.2 Å: 50 eV


def test_repulsion_is_the_bare_nuclear_coulomb_energy_at_short_range():
    bare, repelled = random_painn(repulsion="none"), random_painn(repulsion="zbl")
    for distance, low in ((0.001, 0.98), (0.01, 0.88)):
        atoms = dimer(distance)
        added = energy_and_forces(repelled, atoms)[0]
        added -= energy_and_forces(bare, atoms)[0]
        # the screening function falls from 1 at r = 0 (0.90 at 0.01 Å)
        assert low < added * distance / (COULOMB * 47 * 16) <= 1.0


def test_repulsion_vanishes_smoothly_at_the_sum_of_covalent_radii():
    bare, repelled = random_painn(repulsion="none"), random_painn(repulsion="zbl")
    reach = covalent_radii[47] + covalent_radii[16]  # 2.50 Å

    def added(distance: float) -> tuple[float, float]:
        e_bare, f_bare = energy_and_forces(bare, dimer(distance))
        e_zbl, f_zbl = energy_and_forces(repelled, dimer(distance))
        return e_zbl - e_bare, float(f_zbl[1, 0] - f_bare[1, 0])

    for distance in (reach, reach + 0.01, 3.0):
        assert added(distance) == (0.0, 0.0)
    # the envelope leaves the energy as (reach - r)³ and the force as
    # (reach - r)²: half the distance to the reach, 1/8 and 1/4 of them
    (e_far, f_far), (e_near, f_near) = added(reach - 0.02), added(reach - 0.01)
    assert 0 < e_near < e_far < 1e-4 and 0 < f_near < f_far
    assert e_far / e_near == pytest.approx(8.0, rel=0.05)
    assert f_far / f_near == pytest.approx(4.0, rel=0.05)


def test_saved_models_keep_their_repulsion_and_old_files_have_none(tmp_path):
    old = {k: v for k, v in ModelConfig().to_dict().items() if k != "repulsion"}
    assert ModelConfig.from_saved(old).repulsion == "none"
    with pytest.raises(ValueError, match="repulsion must be one of"):
        ModelConfig(repulsion="lj")
    # the committee shipped before the repulsion, saved without the field
    for path in named_model("gfn2-xtb-sharp").members:
        assert "repulsion" not in read_model_metadata(path)["config"]
        assert load_model(path).repulsion is None
    for path in named_model("gfn2-xtb").members:
        assert read_model_metadata(path)["config"]["repulsion"] == "zbl"
    model = random_painn(repulsion="zbl")
    path = save_model(model, tmp_path / "zbl.safetensors")
    loaded = load_model(path)
    assert loaded.config.repulsion == "zbl"
    atoms = dimer(1.5)
    assert energy_and_forces(loaded, atoms)[0] == energy_and_forces(model, atoms)[0]


def test_reference_energies_are_fitted_to_what_the_repulsion_leaves(cu_snapshots):
    from ase_phonongnn.train._data import labelled_graphs

    graphs = labelled_graphs(
        cu_snapshots, [keys.ENERGY_PER_ATOM], cutoff=4.0, dtype=torch.float64
    )
    energies = {}
    for repulsion in ("none", "zbl"):
        config = ModelConfig(species=(29,), cutoff=4.0, repulsion=repulsion)
        model = build_model(config, seed=0, dtype=torch.float64).eval()
        model.fit_normalisation(graphs)
        energies[repulsion] = np.array(
            [float(model(g)[keys.ENERGY][0].detach()) for g in graphs]
        )
    # Same weights: the energies differ by the repulsion (Cu-Cu reach 2.64 Å,
    # nearest neighbours 2.55 Å) less the part of it that the reference
    # energy took, its mean over the training snapshots
    difference = energies["zbl"] - energies["none"]
    assert difference.std() > 1e-3
    assert abs(difference.mean()) < 1e-9 * np.abs(energies["none"]).max()
