"""Calculator factories by name: ``gfn2-xtb``, ``gpaw``, ``emt``, ``MODULE:FACTORY``.

A labelling run needs a *factory*, a picklable callable without arguments
that returns a new ASE calculator, so that every structure gets a fresh
calculator (nothing computed for one snapshot leaks into the next) and each
worker process builds its own.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import pickle
from collections.abc import Callable, Mapping
from typing import Any, Final

from ase.calculators.calculator import BaseCalculator

#: Built-in calculator names and the factories they stand for.
CALCULATORS: Final = {
    "gfn2-xtb": "ase_phonongnn.label.xtb:GFN2xTB",
    "gpaw": "ase_phonongnn.label.gpaw:GPAWPBEsol",
    "emt": "ase.calculators.emt:EMT",
}

#: Python modules a built-in calculator needs, with the install hint.
_REQUIRES: Final = {
    "gfn2-xtb": ("tblite", "pip install 'ase-phonongnn[xtb]'"),
    "gpaw": (
        "gpaw",
        "apt-get install libxc-dev libopenblas-dev libfftw3-dev, then "
        "pip install 'ase-phonongnn[dft]'",
    ),
}

CalculatorFactory = Callable[[], Any]


def _import_factory(spec: str) -> CalculatorFactory:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(
            f"calculator {spec!r} is not of the form MODULE:FACTORY "
            "(e.g. 'mypackage.calculators:make_dft')"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"calculator {spec!r}: cannot import module {module_name!r} ({err})"
        ) from err
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as err:
            raise ValueError(
                f"calculator {spec!r}: module {module_name!r} has no {attribute!r}"
            ) from err
    return target  # type: ignore[no-any-return]


def resolve_calculator(
    calculator: str | CalculatorFactory,
    options: Mapping[str, Any] | None = None,
) -> tuple[CalculatorFactory, str]:
    """Return the factory that ``calculator`` names, and a name for provenance.

    Parameters
    ----------
    calculator
        ``"gfn2-xtb"`` (the built-in GFN2-xTB labeller), ``"gpaw"`` (the
        built-in GPAW labeller at PBEsol), ``"emt"`` (ASE's
        EMT), ``"MODULE:FACTORY"`` (any importable callable, e.g.
        ``"ase.calculators.lj:LennardJones"``), or a callable without
        arguments that returns an ASE calculator.
    options
        Keyword arguments the factory is called with, e.g.
        ``{"retry": False}`` for GFN2-xTB's first SCF rung only, or
        ``{"basis": "sz"}`` for GPAW. The name
        stays the calculator's; a calculator with ``todict`` (every ASE
        calculator) records them with each label.

    Returns
    -------
    factory : callable
        Returns a new calculator on each call.
    name : str
        ``gfn2-xtb``, ``emt`` or ``module:qualified.name``.

    Raises
    ------
    ValueError
        Unknown name, unimportable module or missing attribute.
    TypeError
        A calculator instance instead of a factory, something not callable,
        or an option the factory does not take.
    ImportError
        A built-in calculator whose optional dependency is not installed.
    """
    if isinstance(calculator, BaseCalculator):
        raise TypeError(
            f"calculator must be a factory, not a {type(calculator).__name__} "
            "instance: pass the class or a function that returns a new "
            "calculator (one per structure, so that no state leaks between them)"
        )
    if isinstance(calculator, str):
        key = calculator.strip().lower()
        if key in CALCULATORS:
            requirement = _REQUIRES.get(key)
            if requirement and importlib.util.find_spec(requirement[0]) is None:
                raise ImportError(
                    f"calculator {key!r} needs {requirement[0]}: {requirement[1]}"
                )
            factory, name = _import_factory(CALCULATORS[key]), key
        elif ":" not in calculator:
            raise ValueError(
                f"unknown calculator {calculator!r}: use one of "
                f"{', '.join(CALCULATORS)}, or MODULE:FACTORY for any importable "
                "factory (e.g. 'ase.calculators.lj:LennardJones')"
            )
        else:
            factory = _import_factory(calculator.strip())
            name = calculator.strip()
    elif callable(calculator):
        factory = calculator
        name = (
            f"{getattr(factory, '__module__', '?')}:"
            f"{getattr(factory, '__qualname__', type(factory).__name__)}"
        )
    else:
        raise TypeError(
            "calculator must be a name (gfn2-xtb, emt, MODULE:FACTORY) or a "
            f"callable returning an ASE calculator (got {type(calculator).__name__})"
        )
    if not callable(factory):
        raise TypeError(f"calculator {name!r} is not callable")
    if options:
        factory = _with_options(factory, name, dict(options))
    return factory, name


def _with_options(
    factory: CalculatorFactory, name: str, options: dict[str, Any]
) -> CalculatorFactory:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have none: let the call tell
        signature = None
    if signature is not None:
        try:
            signature.bind_partial(**options)
        except TypeError as err:
            raise TypeError(
                f"calculator {name!r} does not take the options "
                f"{sorted(options)} ({err}); it takes {signature}"
            ) from err
    # a partial of a module-level factory stays picklable for the workers
    return functools.partial(factory, **options)


def check_picklable(factory: CalculatorFactory, name: str) -> None:
    """Raise a clear :class:`TypeError` if ``factory`` cannot go to worker processes."""
    try:
        pickle.dumps(factory)
    except Exception as err:
        raise TypeError(
            f"calculator factory {name!r} cannot be pickled for the executor's "
            f"workers ({err}); define it at module level, not as a lambda or a "
            "local function"
        ) from err
