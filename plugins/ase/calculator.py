"""Registration of :class:`~ase_phonongnn.PhononGNNCalc` with ASE by name.

ASE 3.29's stable mechanism is
:func:`ase.calculators.calculator.register_calculator_class`: a registered
name is returned by ``get_calculator_class(name)``, which ASE's tools (and
``ase run``-style scripts) use to build calculators from names. The
``ase.plugins`` entry point group is read only by the experimental
``ase._4`` plugin system, so it is not used.
"""

from __future__ import annotations

from typing import Final

from ase_phonongnn.calculator import PhononGNNCalc

#: The name under which ASE finds the calculator.
CALCULATOR_NAME: Final = "phonongnn"


def register_calculator(name: str = CALCULATOR_NAME) -> type[PhononGNNCalc]:
    """Register :class:`PhononGNNCalc` with ASE under ``name``; return the class.

    Registering again under the same name does nothing.

    Raises
    ------
    ValueError
        If ASE already has another calculator of that name.
    """
    from ase.calculators.calculator import (
        external_calculators,
        register_calculator_class,
    )

    registered = external_calculators.get(name)
    if registered is None:
        register_calculator_class(name, PhononGNNCalc)
    elif registered is not PhononGNNCalc:
        raise ValueError(
            f"ASE calculator name {name!r} is taken by {registered!r}; "
            "register PhononGNNCalc under another name"
        )
    return PhononGNNCalc
