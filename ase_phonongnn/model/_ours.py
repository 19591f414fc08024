"""PotentialGNN (``ours``): a smooth invariant message-passing potential."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import torch
from ase import units
from ase.data import covalent_radii
from torch import Tensor
from torch_geometric.data import Data

from ase_phonongnn import keys
from ase_phonongnn.graph import edge_vectors
from ase_phonongnn.model._base import GraphModel, spread, stacked_labels
from ase_phonongnn.model._config import ModelConfig
from ase_phonongnn.model._messages import edge_messages
from ase_phonongnn.model._readouts import (
    READOUT_CLASSES,
    READOUT_PARTS,
    Readout,
    ReadoutInputs,
    atomic_mlp,
    level_edges,
)
from ase_phonongnn.model._tight_binding import TightBindingReadout

#: Voigt order of ASE: xx, yy, zz, yz, xz, xy.
_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


class BesselBasis(torch.nn.Module):
    r"""Radial Bessel functions :math:`b_n(r) = \sin(n\pi r/r_c) / (r/r_c)`, n = 1..K.

    The zero-angular-momentum solutions of a particle in a sphere of radius
    :math:`r_c` (Gasteiger et al., DimeNet, ICLR 2020): an orthogonal,
    smooth basis of functions of the distance. We drop DimeNet's
    :math:`\sqrt{2/r_c}/r_c` normalisation so that the features are
    dimensionless and of order one: with it (values ~0.2) the first epochs
    of training sat on a plateau where the predicted forces stayed near zero
    (measured on EMT Cu snapshots: R² 0.3 against 0.99 after 25 epochs).

    Parameters
    ----------
    n_radial
        K, the number of functions.
    cutoff
        :math:`r_c` in Å.
    """

    frequencies: Tensor

    def __init__(self, n_radial: int, cutoff: float) -> None:
        super().__init__()
        self.cutoff = cutoff
        frequencies = math.pi * torch.arange(1, n_radial + 1) / cutoff
        self.register_buffer("frequencies", frequencies, persistent=False)

    def forward(self, distances: Tensor) -> Tensor:
        """Return the basis (E, K) at the distances (E,) in Å."""
        r = distances.unsqueeze(-1)
        return self.cutoff * torch.sin(self.frequencies * r) / r


class PolynomialEnvelope(torch.nn.Module):
    r"""Polynomial envelope that goes smoothly to zero at the cutoff.

    :math:`u(d) = 1 - \tfrac{(p+1)(p+2)}{2} d^p + p(p+2) d^{p+1}
    - \tfrac{p(p+1)}{2} d^{p+2}` with :math:`d = r/r_c`, zero beyond;
    :math:`u(1) = u'(1) = u''(1) = 0` (DimeNet), so energies, forces and force
    derivatives are continuous when an atom crosses the cutoff.
    """

    def __init__(self, exponent: int, cutoff: float) -> None:
        super().__init__()
        self.p = exponent
        self.cutoff = cutoff

    def forward(self, distances: Tensor) -> Tensor:
        """Return u (E,) at the distances (E,) in Å."""
        p = self.p
        d = distances / self.cutoff
        # Horner form: one power instead of three (cheaper double backward).
        u = 1.0 + d**p * (
            -0.5 * (p + 1) * (p + 2) + d * (p * (p + 2) - 0.5 * p * (p + 1) * d)
        )
        return torch.where(d < 1.0, u, torch.zeros_like(u))


#: e²/(4πε₀) in eV·Å (14.40).
_COULOMB: Final = units._e / (4 * math.pi * units._eps0) * 1e10
#: Universal ZBL screening function: (coefficient, exponent) pairs.
_ZBL_SCREENING: Final = (
    (0.18175, 3.19980),
    (0.50986, 0.94229),
    (0.28022, 0.40290),
    (0.02817, 0.20162),
)


class ZBLRepulsion(torch.nn.Module):
    r"""Ziegler-Biersack-Littmark nuclear repulsion, switched off at short range.

    .. math:: E = \frac12 \sum_{i \ne j} \frac{e^2}{4\pi\varepsilon_0}
              \frac{Z_i Z_j}{r_{ij}}\,\phi(r_{ij}/a_{ij})\,
              u(r_{ij}/r^{\max}_{ij}),
              \qquad a_{ij} = \frac{0.4685\,\text{Å}}{Z_i^{0.23} + Z_j^{0.23}}

    with φ the universal screening function (Ziegler, Biersack & Littmark,
    *The Stopping and Range of Ions in Solids*, 1985; LAMMPS ``pair_style
    zbl``), u the polynomial envelope (p = 6: energy, force and force
    derivative vanish at :math:`r^{\max}`) and :math:`r^{\max}_{ij}` the sum
    of the covalent radii (``ase.data.covalent_radii``; at most the graph
    cutoff), as in MACE's and metatrain's ZBL terms. It is the bare Coulomb
    repulsion of the nuclei as :math:`r \to 0` and grows without bound, so a
    potential that adds it keeps atoms apart where its data never brought
    them (Ag-S at 1.2 Å: 50 eV, at 1.9 Å: 1.8 eV, at the 2.40 Å of the ideal
    cubic Ag3SBr: 5 meV).

    Parameters
    ----------
    cutoff
        Graph radius in Å; no pair term reaches beyond it.
    exponent
        Exponent p of the envelope.
    """

    radii: Tensor

    def __init__(self, cutoff: float, exponent: int = 6) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.envelope = PolynomialEnvelope(exponent, 1.0)
        radii = torch.as_tensor(covalent_radii, dtype=torch.get_default_dtype())
        self.register_buffer("radii", radii, persistent=False)

    def forward(
        self, data: Data, positions: Tensor, cell: Tensor, batch: Tensor, n_graphs: int
    ) -> Tensor:
        """Return the repulsion energy of every structure (B,) in eV."""
        _, distances = edge_vectors(data, positions, cell)
        source, target = data.edge_index
        z_source, z_target = data.z[source], data.z[target]
        reach = (self.radii[z_source] + self.radii[z_target]).clamp(max=self.cutoff)
        z_i, z_j = z_source.to(distances.dtype), z_target.to(distances.dtype)
        x = distances * (z_i**0.23 + z_j**0.23) / 0.46850
        screening = sum(c * torch.exp(-k * x) for c, k in _ZBL_SCREENING)
        pair = _COULOMB * z_i * z_j / distances * screening
        pair = pair * self.envelope(distances / reach)
        energy = torch.zeros(n_graphs, dtype=distances.dtype, device=distances.device)
        # every pair is two directed edges
        return energy.index_add(0, batch[source], 0.5 * pair)


class Interaction(torch.nn.Module):
    r"""One invariant continuous-filter convolution with a residual update.

    .. math:: \mathbf{m}_i = \frac{1}{\sqrt{\bar n}}\sum_{j} u(r_{ij})\,
              \mathrm{MLP}_f\big(\mathbf{b}(r_{ij})\,u(r_{ij})\big) \odot
              W\mathbf{h}_j, \qquad
              \mathbf{h}_i \leftarrow \mathbf{h}_i + \mathrm{MLP}_u(\mathbf{m}_i)

    (SchNet's cfconv, Schütt et al., J. Chem. Phys. 148, 241722 (2018), with a
    smooth envelope, :math:`\mathbf{b}` the Bessel basis; the filter is
    multiplied by the envelope again, so it vanishes smoothly at the cutoff
    whatever the biases of its MLP (whose last layer has none). The sum is divided
    by :math:`\sqrt{\bar n}`, :math:`\bar n` the mean number of neighbours
    in the training set, which keeps messages of order one.)
    """

    def __init__(self, width: int, n_radial: int) -> None:
        super().__init__()
        self.filter = torch.nn.Sequential(
            torch.nn.Linear(n_radial, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width, bias=False),
        )
        self.project = torch.nn.Linear(width, width, bias=False)
        self.update = torch.nn.Sequential(
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
        )

    def forward(
        self,
        h: Tensor,
        radial: Tensor,
        envelope: Tensor,
        edge_index: Tensor,
        neighbours: Tensor,
    ) -> Tensor:
        """Return updated node features (n, F)."""
        source, target = edge_index
        weights = self.filter(radial) * envelope.unsqueeze(-1)
        # index_select: the same gather as h[source], several times faster on
        # CPU (benchmarks/results/profiles)
        messages = weights * self.project(h).index_select(0, source)
        summed = torch.zeros_like(h).index_add_(0, target, messages)
        update: Tensor = self.update(summed / neighbours.sqrt())
        return h + update


def _sharp_norm(v: Tensor) -> Tensor:
    """Norm over axis 1 with a cusp of width 1e-4 where ``v`` vanishes."""
    # + 1e-8 keeps it differentiable (twice) at zero, with a curvature of 1e4
    return torch.sqrt((v * v).sum(dim=1) + 1e-8)


def _smooth_norm(v: Tensor) -> Tensor:
    """sqrt(|v|² + 1) - 1 over axis 1: |v|²/2 near zero, |v| - 1 far from it."""
    return torch.sqrt((v * v).sum(dim=1) + 1.0) - 1.0


#: :attr:`ModelConfig.vector_norm` -> the invariant of the vector features.
VECTOR_NORM_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "smooth": _smooth_norm,
    "sharp": _sharp_norm,
}


class EquivariantInteraction(torch.nn.Module):
    r"""One PaiNN message and update block: scalar and vector features.

    Each atom carries scalars :math:`\mathbf{s}_i` (F) and vectors
    :math:`\vec{\mathbf{v}}_i` (3 × F, zero at the start). Message
    (Schütt, Unke & Gastegger, ICML 2021, eqs. 7-9), with
    :math:`\phi(\mathbf{s}_j) \circ W(r_{ij}) = (\mathbf{a}, \mathbf{b},
    \mathbf{c})` split in three:

    .. math:: \Delta\mathbf{s}_i = \frac{1}{\sqrt{\bar n}} \sum_j \mathbf{a}_{ij},
              \qquad
              \Delta\vec{\mathbf{v}}_i = \frac{1}{\sqrt{\bar n}} \sum_j
              \mathbf{b}_{ij} \circ \vec{\mathbf{v}}_j
              + \mathbf{c}_{ij} \circ \hat{\mathbf{r}}_{ij}

    then the update (eqs. 10-12) mixes the channels of the vectors with two
    bias-free linear maps U, V and couples them to the scalars through
    :math:`\lVert V\vec{\mathbf{v}}_i\rVert` and
    :math:`\langle U\vec{\mathbf{v}}_i, V\vec{\mathbf{v}}_i\rangle`. The
    scalars stay invariant and the vectors rotate with the structure, so the
    messages see bond directions and, after one block, bond angles, which
    distances alone (:class:`Interaction`) cannot. The filter W is the Bessel
    basis through a linear map, times the envelope (and the edge mask), as in
    :class:`Interaction`; the sums are scaled by the mean neighbour count.

    ``vector_norm`` names the invariant taken of :math:`V\vec{\mathbf{v}}_i`
    (:data:`VECTOR_NORM_FUNCTIONS`): PaiNN's norm has a cusp where the
    vectors vanish, as they do by symmetry at every site of a cubic
    perovskite, so the energy there is not twice differentiable;
    ``"smooth"``, :math:`\sqrt{\lVert V\vec{\mathbf{v}}\rVert^2 + 1} - 1`,
    is, with a curvature of at most one. (The Olfati-Saber "σ-norm"; e3nn,
    NequIP and MACE avoid the norm of vectors in their nonlinearities.)
    """

    def __init__(self, width: int, n_radial: int, vector_norm: str = "smooth") -> None:
        super().__init__()
        self.width = width
        self.vector_norm = VECTOR_NORM_FUNCTIONS[vector_norm]
        self.context = torch.nn.Sequential(
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, 3 * width),
        )
        self.filter = torch.nn.Linear(n_radial, 3 * width, bias=False)
        self.mix = torch.nn.Linear(width, 2 * width, bias=False)
        self.update = torch.nn.Sequential(
            torch.nn.Linear(2 * width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, 3 * width),
        )

    def forward(
        self,
        s: Tensor,
        v: Tensor,
        radial: Tensor,
        weight: Tensor,
        unit: Tensor,
        edge_index: Tensor,
        neighbours: Tensor,
        *,
        weighted_radial: Tensor | None = None,
        zero_vectors: bool = False,
        compiled: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """Return updated scalars (n, F) and vectors (n, 3, F).

        ``unit`` holds the unit bond vectors (E, 3); ``weight`` the envelope
        times the edge mask (E,). With ``weighted_radial``, the radial basis
        times ``weight`` (E, K), the messages are summed by
        :func:`edge_messages` in blocks of edges (first derivatives only);
        ``zero_vectors`` says that ``v`` is zero (the first block), whose
        messages then skip the term in ``v``; ``compiled`` runs those blocks
        as compiled kernels (:func:`edge_messages`).
        """
        source, target = edge_index
        width = self.width
        scale = neighbours.sqrt()
        if weighted_radial is not None:
            summed_s, summed_v = edge_messages(
                self.context(s),
                None if zero_vectors else v,
                weighted_radial,
                unit,
                self.filter.weight.detach(),
                edge_index,
                compiled=compiled,
            )
            s = s + summed_s / scale
            v = v + summed_v / scale
        else:
            filtered = self.filter(radial) * weight.unsqueeze(-1)
            a, b, c = torch.split(
                self.context(s).index_select(0, source) * filtered, width, dim=-1
            )
            vector_messages = b.unsqueeze(1) * v.index_select(0, source) + c.unsqueeze(
                1
            ) * unit.unsqueeze(-1)
            s = s + torch.zeros_like(s).index_add_(0, target, a) / scale
            v = v + torch.zeros_like(v).index_add_(0, target, vector_messages) / scale
        u_v, v_v = torch.split(self.mix(v), width, dim=-1)
        norm = self.vector_norm(v_v)
        a_vv, a_sv, a_ss = torch.split(
            self.update(torch.cat([s, norm], dim=-1)), width, dim=-1
        )
        s = s + a_sv * (u_v * v_v).sum(dim=1) + a_ss
        v = v + a_vv.unsqueeze(1) * u_v
        return s, v


class PotentialGNN(GraphModel):
    r"""Our model (key ``ours``): a smooth conservative potential with intensive heads.

    - A learned embedding of each element (``species`` → ``hidden_channels``).
    - ``n_radial`` Bessel radial functions of the distance times a polynomial
      envelope that vanishes with two derivatives at the cutoff.
    - ``n_interactions`` invariant continuous-filter convolutions
      (:class:`Interaction`), or with ``equivariant`` PaiNN blocks with
      vector features (:class:`EquivariantInteraction`), with SiLU and
      residual updates; message sums are divided by the square root of the
      mean number of neighbours of the training set (a constant, so energies
      stay extensive).
    - Energy :math:`E = \sum_i [\,s\,\varepsilon(\mathbf{h}_i) + E^0_{Z_i}]`,
      a sum of atomic energies, with per-element reference energies
      :math:`E^0` from a least-squares fit of the training energies to the
      composition, and s the RMS training force times 1 Å (or the spread of
      the per-atom energy without forces).
    - Forces :math:`\mathbf{F}_i = -\partial E/\partial \mathbf{r}_i` and
      stress :math:`\sigma = V^{-1}\,\partial E/\partial \varepsilon` (ASE
      sign: positive is tensile) by automatic differentiation, positions and
      cell strained as :math:`\mathbf{r} \to \mathbf{r}(1+\varepsilon)`,
      :math:`\mathbf{C} \to \mathbf{C}(1+\varepsilon)`.
    - ``band_gap``, ``vbm``, ``hydrostatic_stress``: an atomic MLP averaged
      over the atoms, standardised with the training mean and standard
      deviation; dropout acts in these heads only. ``readout="attention"``
      weights the average by a softmax over the atoms of a second atomic MLP
      (one weight per atom and target); ``readout="levels"`` gives each
      target 2 × :data:`N_LEVELS` atom-averaged outputs and takes a smooth
      maximum (:math:`\tau \log\sum_k e^{x_k/\tau}`, τ learned per target)
      of the first half minus one of the second; ``readout="tight-binding"``
      adds to the mean the highest level of one learned Γ-point tight-binding
      Hamiltonian of the cell minus that of another
      (:class:`~ase_phonongnn.model.TightBindingReadout`). Every readout is
      intensive; they are registered by key in
      :data:`~ase_phonongnn.model.READOUT_CLASSES`.

    Why this design, and what each choice measured, is in the documentation
    (science section, "The ``ours`` model").

    Parameters
    ----------
    config
        ``config.model == "ours"``; uses ``hidden_channels``,
        ``n_interactions``, ``n_radial``, ``envelope_exponent``,
        ``equivariant``, ``vector_norm``, ``repulsion``, ``readout``, ``dropout``,
        ``cutoff``, ``species`` and ``targets``.
    """

    registry_keys = ("ours",)
    atomic_energies: Tensor
    mean_neighbours: Tensor
    readout: Readout
    # the readout's parts (READOUT_PARTS), None where the readout has none
    level_log_temperature: torch.nn.Parameter | None
    intensive_gate: torch.nn.Module | None
    tight_binding: TightBindingReadout | None

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        width = config.hidden_channels
        self.embedding = torch.nn.Embedding(len(config.species), width)
        self.radial = BesselBasis(config.n_radial, config.cutoff)
        self.envelope = PolynomialEnvelope(config.envelope_exponent, config.cutoff)
        block: Callable[[int, int], torch.nn.Module] = (
            functools.partial(EquivariantInteraction, vector_norm=config.vector_norm)
            if config.equivariant
            else Interaction
        )
        self.interactions = torch.nn.ModuleList(
            block(width, config.n_radial) for _ in range(config.n_interactions)
        )
        self.energy_index = (
            config.targets.index(keys.ENERGY_PER_ATOM)
            if keys.ENERGY_PER_ATOM in config.targets
            else None
        )
        self.intensive_index = [
            k for k, t in enumerate(config.targets) if t != keys.ENERGY_PER_ATOM
        ]
        self.energy_head = (
            atomic_mlp(width, 1) if self.energy_index is not None else None
        )
        n_intensive = len(self.intensive_index)
        self.readout = READOUT_CLASSES[config.readout]()
        self.intensive_head = (
            atomic_mlp(
                width, n_intensive * self.readout.outputs_per_target, config.dropout
            )
            if self.intensive_index
            else None
        )
        for name in READOUT_PARTS:
            setattr(self, name, None)
        if self.intensive_index:
            parts = self.readout.parts(width, config.n_radial, n_intensive)
            for name, part in parts.items():
                if name not in READOUT_PARTS:  # pragma: no cover - a programming error
                    raise AttributeError(
                        f"readout part {name!r} is not one of {READOUT_PARTS}"
                    )
                setattr(self, name, part)
        self.repulsion = (
            ZBLRepulsion(config.cutoff) if config.repulsion == "zbl" else None
        )
        self.register_buffer("atomic_energies", torch.zeros(len(config.species)))
        self.register_buffer("mean_neighbours", torch.ones(()))
        #: Predictions (no outer autograd graph) sum the PaiNN messages with
        #: kernels compiled by torch.compile: faster on a CPU after a first
        #: call that compiles for tens of seconds; the same results to
        #: rounding. Not saved with the model.
        self.compiled_messages = False

    def _level_edges(self, pooled: Tensor) -> Tensor:
        """Smooth max of the first N_LEVELS columns minus that of the others.

        The ``"levels"`` readout's pooling of atom-averaged outputs
        (:func:`~ase_phonongnn.model._readouts.level_edges`).
        """
        assert self.level_log_temperature is not None
        return level_edges(pooled, self.level_log_temperature)

    @property
    def has_energy(self) -> bool:
        """Whether ``energy_per_atom`` is a target (then forces and stress exist)."""
        return self.energy_index is not None

    @property
    def implemented_properties(self) -> tuple[str, ...]:
        """Keys of the dict returned by :meth:`forward` (with forces, stress)."""
        extra = (keys.ENERGY, keys.FORCES, keys.STRESS) if self.has_energy else ()
        return (*self.targets, *extra)

    def forward(
        self,
        data: Data,
        *,
        compute_forces: bool = False,
        compute_stress: bool = False,
    ) -> dict[str, Tensor]:
        """Predict targets, and forces and stress on request.

        See :meth:`GraphModel.forward`. With ``compute_forces`` or
        ``compute_stress`` the derivatives are taken by autograd; they keep
        their own graph (for training on forces) only when grad mode is on.
        """
        if (compute_forces or compute_stress) and not self.has_energy:
            raise ValueError(
                "forces and stress need an energy: add 'energy_per_atom' to the "
                f"model's targets (got {list(self.targets)})"
            )
        species = self.species_indices(data.z)
        batch, n_graphs = self.graph_batch(data)
        outer_grad = torch.is_grad_enabled()
        derivatives = compute_forces or compute_stress
        context = torch.enable_grad() if derivatives else contextlib.nullcontext()
        with context:
            positions, cell = data.pos, data.cell
            if compute_forces and not positions.requires_grad:
                positions = positions.detach().requires_grad_(True)
            strained_pos, strained_cell, strain = positions, cell, None
            if compute_stress:
                strain = torch.zeros(
                    (n_graphs, 3, 3),
                    dtype=cell.dtype,
                    device=cell.device,
                    requires_grad=True,
                )
                symmetric = 0.5 * (strain + strain.transpose(1, 2))
                strained_pos = positions + torch.einsum(
                    "na,nab->nb", positions, symmetric[batch]
                )
                strained_cell = cell + torch.bmm(cell, symmetric)
            h, radial, weight = self._node_features(
                data, species, strained_pos, strained_cell, blocked=not outer_grad
            )
            out: dict[str, Tensor] = {}
            n_atoms = torch.zeros(n_graphs, dtype=h.dtype, device=h.device).index_add(
                0, batch, torch.ones_like(batch, dtype=h.dtype)
            )
            if self.energy_head is not None and self.energy_index is not None:
                k = self.energy_index
                atomic = (
                    self.target_scale[k] * self.energy_head(h).squeeze(-1)
                    + self.atomic_energies[species]
                )
                energy = torch.zeros(n_graphs, dtype=h.dtype, device=h.device)
                energy = energy.index_add(0, batch, atomic)
                if self.repulsion is not None:
                    energy = energy + self.repulsion(
                        data, strained_pos, strained_cell, batch, n_graphs
                    )
                out[keys.ENERGY] = energy
                out[keys.ENERGY_PER_ATOM] = energy / n_atoms
            if self.intensive_head is not None:
                readout_inputs = ReadoutInputs(
                    per_atom=self.intensive_head(h),
                    h=h,
                    radial=radial,
                    weight=weight,
                    edge_index=data.edge_index,
                    batch=batch,
                    n_graphs=n_graphs,
                    n_atoms=n_atoms,
                )
                pooled = self.readout.pool(self, readout_inputs)
                index = self.intensive_index
                values = self.target_shift[index] + self.target_scale[index] * pooled
                for column, k in enumerate(index):
                    out[self.targets[k]] = values[:, column]
            if derivatives:
                inputs = [positions] if compute_forces else []
                if strain is not None:
                    inputs.append(strain)
                grads = torch.autograd.grad(
                    out[keys.ENERGY].sum(), inputs, create_graph=outer_grad
                )
                if compute_forces:
                    out[keys.FORCES] = -grads[0]
                if strain is not None:
                    volume = torch.linalg.det(cell).abs()
                    virial = grads[-1] / volume.view(-1, 1, 1)
                    out[keys.STRESS] = torch.stack(
                        [virial[:, a, b] for a, b in _VOIGT], dim=1
                    )
        if not outer_grad:
            out = {name: value.detach() for name, value in out.items()}
        return out

    def _node_features(
        self,
        data: Data,
        species: Tensor,
        positions: Tensor,
        cell: Tensor,
        blocked: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return node features (n, F), radial basis (E, K) and edge weights (E,).

        ``blocked`` sums the equivariant messages by :func:`edge_messages`
        (for predictions that need no second derivatives).
        """
        vectors, distances = edge_vectors(data, positions, cell)
        envelope = self.envelope(distances)
        radial = self.radial(distances) * envelope.unsqueeze(-1)
        # The edge mask scales each message linearly (0 removes the edge), so
        # it multiplies the envelope that weights the messages, not the
        # filter's input.
        mask = self.edge_mask(data)
        weight = envelope if mask is None else envelope * mask
        h: Tensor = self.embedding(species)
        if not self.config.equivariant:
            for interaction in self.interactions:
                h = interaction(
                    h, radial, weight, data.edge_index, self.mean_neighbours
                )
            return h, radial, weight
        unit = vectors / distances.unsqueeze(-1)
        v = h.new_zeros((h.shape[0], 3, h.shape[1]))
        weighted = radial * weight.unsqueeze(-1) if blocked else None
        for k, interaction in enumerate(self.interactions):
            h, v = interaction(
                h,
                v,
                radial,
                weight,
                unit,
                data.edge_index,
                self.mean_neighbours,
                weighted_radial=weighted,
                zero_vectors=k == 0,
                compiled=self.compiled_messages,
            )
        return h, radial, weight

    def _repulsion_energies(self, graphs: Sequence[Data]) -> np.ndarray:
        """Return the repulsion energy of every graph (0 without one), eV."""
        if self.repulsion is None:
            return np.zeros(len(graphs))
        device = self.atomic_energies.device
        dtype = self.atomic_energies.dtype
        values = []
        with torch.no_grad():
            for g in graphs:
                g = g.to(device)
                batch = torch.zeros(g.num_nodes, dtype=torch.long, device=device)
                energy = self.repulsion(g, g.pos.to(dtype), g.cell.to(dtype), batch, 1)
                values.append(float(energy[0]))
        return np.array(values)

    def fit_normalisation(self, graphs: Sequence[Data]) -> None:
        """Fit reference energies, energy scale, neighbour count and head scaling."""
        labels = stacked_labels(graphs, len(self.targets))
        n_species = len(self.species)
        shift = np.zeros(len(self.targets))
        scale = np.ones(len(self.targets))
        label = np.ones(len(self.targets))
        n_edges = sum(int(g.edge_index.shape[1]) for g in graphs)
        n_nodes = sum(int(g.num_nodes) for g in graphs)
        self.mean_neighbours.fill_(max(n_edges / max(n_nodes, 1), 1.0))
        if self.energy_index is not None:
            k = self.energy_index
            counts = np.zeros((len(graphs), n_species))
            for row, g in enumerate(graphs):
                index = self.species_indices(g.z.to(self.species_index.device))
                counts[row] = np.bincount(index.cpu().numpy(), minlength=n_species)
            n_atoms = counts.sum(axis=1)
            # the network and the reference energies learn what the
            # repulsion leaves
            energies = labels[:, k] * n_atoms - self._repulsion_energies(graphs)
            ok = np.isfinite(energies)
            references = np.linalg.lstsq(counts[ok], energies[ok], rcond=None)[0]
            residual = (energies[ok] - counts[ok] @ references) / n_atoms[ok]
            forces = [
                g.forces.double().cpu().numpy()
                for g in graphs
                if getattr(g, "forces", None) is not None
            ]
            forces_array = np.concatenate(forces) if forces else np.zeros((0, 3))
            forces_array = forces_array[np.isfinite(forces_array).all(axis=1)]
            rms_force = (
                float(np.sqrt(np.mean(forces_array**2))) if forces_array.size else 0.0
            )
            label[k] = spread(residual)
            scale[k] = rms_force if rms_force > 1e-9 else label[k]
            self.atomic_energies.copy_(torch.as_tensor(references))
        for k in self.intensive_index:
            finite = labels[:, k][np.isfinite(labels[:, k])]
            shift[k] = float(finite.mean()) if finite.size else 0.0
            scale[k] = label[k] = spread(labels[:, k])
        self.set_target_scaling(shift, scale, label)
