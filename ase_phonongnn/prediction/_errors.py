"""Errors of prediction: what the models or the machine cannot take.

They derive from ASE's :class:`~ase.calculators.calculator.CalculatorSetupError`
(what ASE calculators raise for a setup they cannot run), from
:class:`~ase_phonongnn.errors.PhononGNNError`, and from :class:`ValueError`
(they all describe a bad argument), so that callers catching any of the
three keep working.
"""

from __future__ import annotations

from ase.calculators.calculator import CalculationFailed, CalculatorSetupError

from ase_phonongnn.errors import PhononGNNError, UnknownElementError


class PredictionSetupError(CalculatorSetupError, PhononGNNError, ValueError):
    """A model, device or structure that prediction cannot be run with."""


class DeviceUnavailableError(PredictionSetupError):
    """The requested device (e.g. ``"cuda"``) is not available on this machine."""


class UnsupportedStructureError(PredictionSetupError):
    """A structure the models cannot describe (not a 3D-periodic crystal, empty)."""


class UnsupportedElementError(UnsupportedStructureError, UnknownElementError):
    """A structure contains an element that a model was not trained on."""


class OutsideTrainingDataError(CalculationFailed, PhononGNNError):
    """A committee's energy spread passed its limit: outside the training data.

    An ASE :class:`~ase.calculators.calculator.CalculationFailed`, so that
    optimisers, MD and phonopy's force sets stop as on a failed calculation.

    Attributes
    ----------
    spread
        The calibrated energy spread of the structure, eV/atom.
    limit
        The limit it passed, eV/atom.
    """

    def __init__(self, message: str, spread: float, limit: float) -> None:
        super().__init__(message)
        self.spread = spread
        self.limit = limit
