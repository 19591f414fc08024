"""Exception tree of ase_phonongnn.

Bad argument values raise :class:`ValueError` and wrong types :class:`TypeError`;
failures of the domain raise a subclass of :class:`PhononGNNError`. Classes that
also describe a bad value derive from :class:`ValueError` too, so that callers
catching either keep working.
"""

from __future__ import annotations


class PhononGNNError(Exception):
    """Base class of every domain error raised by ase_phonongnn."""


class UserInputError(PhononGNNError, ValueError):
    """An input of the user's (an argument, an option, a file) is invalid.

    The message names the input and how to fix it; the command line prints it
    as one line, without a traceback.
    """


class ImaginaryModeError(PhononGNNError, ValueError):
    """Phonons have imaginary (or zero) frequencies where the policy forbids them."""


class ForceConstantsError(PhononGNNError, ValueError):
    """Force constants do not match the structure they are used with."""


class SamplingError(PhononGNNError):
    """A sampler could not produce the requested snapshots."""


class ConvergenceError(PhononGNNError):
    """An iterative procedure did not converge within its iteration limit.

    ``result`` holds what the procedure had when it stopped, if anything.
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class DynaPhoPyError(PhononGNNError):
    """DynaPhoPy stopped, or its peak fits gave unusable frequencies."""


class LabelError(PhononGNNError):
    """A labeller could not compute a label for a structure."""


class StoreError(PhononGNNError):
    """A snapshot store is unreadable, corrupt or inconsistent."""


class StoreWriteError(StoreError):
    """A record could not be written to a store (e.g. the disk is full).

    The records committed before it are intact; the one being written is not
    committed.
    """


class StoreFormatError(StoreError):
    """A snapshot store has a format or version this package cannot read."""


class ModelFormatError(PhononGNNError):
    """A saved model has a format or version this package cannot read."""


class ModelManifestError(ModelFormatError):
    """A shipped model does not match the manifest that names it."""


class ModelIntegrityError(ModelFormatError):
    """A saved model's digest does not match its configuration and weights."""


class UnknownElementError(PhononGNNError, ValueError):
    """A structure contains an element a model or feature table does not know."""
