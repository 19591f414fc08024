"""PhononGNNCalc: an ASE calculator for the trained graph neural networks.

Use a trained model wherever ASE takes a calculator::

    from ase_phonongnn import PhononGNNCalc

    atoms.calc = PhononGNNCalc("model.safetensors")
    atoms.get_potential_energy()                # eV
    atoms.calc.get_property("band_gap", atoms)  # eV

Torch is imported when a calculator is made, not when this module is: the
ASE plugin registers the class with ASE without loading torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from ase_phonongnn import keys

if TYPE_CHECKING:
    import torch

    from ase_phonongnn.model import GraphModel
    from ase_phonongnn.prediction._models import Committee, ModelSpec

#: The committee's energy spread per atom, the result ``max_energy_spread`` checks.
ENERGY_SPREAD = f"{keys.ENERGY_PER_ATOM}_std"


class PhononGNNCalc(Calculator):
    r"""ASE calculator of energy, forces, stress, band gap, VBM, hydrostatic stress.

    One calculation evaluates every property the model gives (one forward
    pass, and for a potential one backward pass for forces and stress
    together); ASE keeps the results until the atoms change (positions,
    numbers, cell or pbc), so asking for several properties of one structure
    costs one evaluation. Works in ``ase.md`` dynamics and ``ase.optimize``.

    Properties and units
        ========================  ===========  ===================================
        ``energy``                eV           potential energy of the cell
        ``free_energy``           eV           equal to ``energy`` (no electronic
                                               entropy)
        ``energy_per_atom``       eV/atom      ``energy / len(atoms)``
        ``forces``                eV/Å         :math:`-\partial E/\partial
                                               \mathbf{r}_i`, shape (n_atoms, 3)
        ``stress``                eV/Å³        Voigt-6 (xx, yy, zz, yz, xz, xy),
                                               :math:`V^{-1}\partial E/\partial
                                               \varepsilon`, ASE sign (positive is
                                               tensile)
        ``band_gap``              eV           CBM − VBM
        ``vbm``                   eV           valence band maximum, in the
                                               labeller's energy reference
        ``hydrostatic_stress``    GPa          trace of the stress / 3, ASE sign
        ========================  ===========  ===================================

    :attr:`implemented_properties` of an instance lists what its model gives:
    ``energy``/``free_energy``/``energy_per_atom`` need an ``energy_per_atom``
    target, ``forces`` and ``stress`` a potential (model ``ours`` trained on
    ``energy_per_atom``), ``band_gap``, ``vbm`` their targets, and
    ``hydrostatic_stress`` a potential's stress (tr σ / 3, consistent with
    ``stress``) or else its target. Asking for
    anything else raises ASE's ``PropertyNotImplementedError``.

    A committee (several models) gives the mean of the members for every
    property and their standard deviation as ``<property>_std``
    (``energy_std``, ``forces_std``, ``band_gap_std``, ...), a measure of
    the model uncertainty; the shipped committee's spreads are scaled to its
    validation error (:func:`~ase_phonongnn.prediction.calibrate_spread`). The
    mean forces are minus the gradient of the mean energy, so a committee
    still conserves energy in dynamics.

    Parameters
    ----------
    model
        None or the name of a shipped model (``"gfn2-xtb"``, alias
        ``"default"``; :func:`ase_phonongnn.model.model_names`); the path of a model
        saved by :func:`~ase_phonongnn.model.save_model` (``phonongnn
        train``); a loaded :class:`~ase_phonongnn.model.GraphModel` (moved to
        ``device``, put in eval mode); or a sequence of paths or models, a
        committee. The graph cutoff and the elements come from each model.
    device
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.
    dtype
        ``"float32"`` or ``"float64"``: the precision in which the models
        compute (each is converted to it, a loaded model in place); None
        (default) keeps each model's own, float32 for the shipped models.
        Use ``"float64"`` for finite differences (phonopy displacements,
        ASE's ``calculate_numerical_forces`` and
        ``calculate_numerical_stress``): in float32 the energy of a 40-atom
        Ag3SBr cell (-4,191 eV) moves in steps of 4.9e-4 eV.
    compile_messages
        Compile the message kernels of the ``ours`` members with
        ``torch.compile`` (see :class:`~ase_phonongnn.predict.Committee`):
        faster on a CPU after a first call that compiles for tens of
        seconds; the same results to rounding.
    spread_scale
        Factor per property on the members' standard deviation, e.g. a
        calibration fitted by :func:`~ase_phonongnn.prediction.calibrate_spread`
        for model files; None (default) takes a shipped committee's own
        calibration, and 1 for other models.
    max_energy_spread
        eV/atom: a calculation where the committee's (calibrated) energy
        spread per atom exceeds it raises
        :class:`~ase_phonongnn.prediction.OutsideTrainingDataError`, an ASE
        ``CalculationFailed``, so that a relaxation, MD run or phonopy force
        set stops where the model leaves its training data instead of
        following it into a hole. None (default): no limit. Needs a
        committee with an energy; a few times the spread on the training
        ensemble is a sensible value (0.03 for the shipped committees, whose
        spread on thermal snapshots is 1-15 meV/atom).

    Raises
    ------
    FileNotFoundError
        If a model file does not exist, or ``model=None`` and no model ships.
    ModelFormatError
        If a file is not a readable model.
    DeviceUnavailableError
        If a CUDA device is asked for and there is none.

    Notes
    -----
    A calculation raises :class:`~ase_phonongnn.prediction.UnsupportedStructureError`
    for a structure that is not a 3D-periodic crystal with a full cell, and
    :class:`~ase_phonongnn.prediction.UnsupportedElementError` for an element
    the model does not know; both are ``CalculatorSetupError`` and
    ``ValueError``.

    Examples
    --------
    The shipped committee on the ideal Ag3SBr supercell, then a few MD steps
    (a committee of your own: ``PhononGNNCalc(["m1.safetensors",
    "m2.safetensors"])``):

    >>> from ase import units
    >>> from ase.md.verlet import VelocityVerlet
    >>> from ase_phonongnn.structures import antiperovskite
    >>> atoms = antiperovskite("Br").repeat(2)
    >>> atoms.calc = PhononGNNCalc()
    >>> gap = atoms.calc.get_property("band_gap", atoms)
    >>> spread = atoms.calc.get_property("band_gap_std", atoms)
    >>> gap > 0.0 and spread >= 0.0
    True
    >>> VelocityVerlet(atoms, timestep=1.0 * units.fs).run(5)
    True
    """

    #: Everything the calculator can give; an instance lists what its model gives.
    implemented_properties: ClassVar[list[str]] = [  # type: ignore[misc]
        keys.ENERGY,
        keys.FREE_ENERGY,
        keys.FORCES,
        keys.STRESS,
        keys.BAND_GAP,
        keys.VBM,
        keys.HYDROSTATIC_STRESS,
        keys.ENERGY_PER_ATOM,
    ]
    default_parameters: ClassVar[dict[str, Any]] = {}  # type: ignore[misc]

    def __init__(
        self,
        model: ModelSpec = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
        *,
        compile_messages: bool = False,
        spread_scale: Mapping[str, float] | None = None,
        max_energy_spread: float | None = None,
    ) -> None:
        from ase_phonongnn.prediction._models import Committee

        super().__init__()  # type: ignore[no-untyped-call]
        self.committee: Committee = Committee.load(
            model,
            device,
            spread_scale,
            dtype=dtype,
            compile_messages=compile_messages,
        )
        # instance attribute: ASE's get_property refuses what is not listed
        self.implemented_properties = list(  # type: ignore[misc]
            self.committee.output_names
        )
        if max_energy_spread is not None:
            if not max_energy_spread > 0:
                raise ValueError(
                    f"max_energy_spread must be > 0 eV/atom (got {max_energy_spread})"
                )
            if ENERGY_SPREAD not in self.implemented_properties:
                raise ValueError(
                    "max_energy_spread needs a committee (several models) with an "
                    "energy; give several model files or a shipped committee"
                )
        self.max_energy_spread = max_energy_spread
        self.parameters.update(
            model=list(self.committee.sources),
            device=str(self.committee.device),
            dtype=str(self.dtype).removeprefix("torch."),
        )

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype | None = None,
    ) -> PhononGNNCalc:
        """Return a calculator of the model(s) saved at ``path`` (default CPU)."""
        return cls(model=path, device=device, dtype=dtype)

    # -- description ----------------------------------------------------------
    @property
    def models(self) -> list[GraphModel]:
        """The loaded models (one, or the committee members)."""
        return list(self.committee.models)

    @property
    def device(self) -> torch.device:
        """Where the models run."""
        return self.committee.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the (first) model's computation."""
        return next(self.committee.models[0].parameters()).dtype

    @property
    def species(self) -> tuple[int, ...]:
        """Atomic numbers that every model knows."""
        return self.committee.species

    def _get_name(self) -> str:
        return "phonongnn"

    def __repr__(self) -> str:
        return (
            f"PhononGNNCalc(model={list(self.committee.sources)!r}, "
            f"device={str(self.device)!r})"
        )

    # -- the calculation -----------------------------------------------------
    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = (keys.ENERGY,),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        """Evaluate every property of ``atoms``; see :class:`PhononGNNCalc`."""
        super().calculate(  # type: ignore[no-untyped-call]
            atoms, properties, system_changes
        )
        if self.atoms is None:
            raise ValueError("no atoms to calculate: pass atoms or attach the calc")
        self.committee.check_structure(self.atoms)
        out = self.committee.evaluate([self.atoms], self.committee.properties)
        results: dict[str, Any] = {}
        for name, value in out.items():
            base = name.removesuffix("_std")
            if base == keys.FORCES:
                results[name] = np.array(value)
            elif base == keys.STRESS:
                results[name] = np.array(value[0])
            else:
                results[name] = float(value[0])
        spread = results.get(ENERGY_SPREAD)
        limit = self.max_energy_spread
        if limit is not None and spread is not None and not spread <= limit:
            from ase_phonongnn.prediction import OutsideTrainingDataError

            self.results = {}
            raise OutsideTrainingDataError(
                f"the committee's energy spread is {1000 * spread:.1f} meV/atom, "
                f"above max_energy_spread={limit:g} eV/atom: this structure is "
                "outside the models' training data (label it and fine-tune, or "
                "raise the limit)",
                spread,
                limit,
            )
        self.results = results
