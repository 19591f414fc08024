"""Calculators named on the command line: labellers and trained models.

``model:NAME_OR_PATH`` is a trained model or committee (a shipped name such as
``gfn2-xtb``, ``model:default`` for the shipped default, a model file, or
model files joined by commas: a committee of them) as an ASE calculator,
:class:`~ase_phonongnn.calculator.PhononGNNCalc`; anything else is a labeller
name or ``MODULE:FACTORY``
(:func:`~ase_phonongnn.label.calculators.resolve_calculator`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from ase_phonongnn.label.calculators import CalculatorFactory, resolve_calculator

#: Prefix of a trained model among calculator names.
MODEL_PREFIX: Final = "model:"


def calculator_factory(
    spec: str, options: Mapping[str, Any] | None = None
) -> tuple[CalculatorFactory, str]:
    """Return a picklable factory for the calculator ``spec`` names, and its name.

    Parameters
    ----------
    spec
        ``model:NAME_OR_PATH`` (``model:A.safetensors,B.safetensors``: the
        committee of those files), a labeller name (``gfn2-xtb``, ``gpaw``,
        ``emt``) or ``MODULE:FACTORY``.
    options
        Keyword arguments of the factory (for a model: ``device``, ``dtype``).
    """
    name = spec.strip()
    if not name.startswith(MODEL_PREFIX):
        return resolve_calculator(name, options)
    from ase_phonongnn.calculator import PhononGNNCalc

    model = name.removeprefix(MODEL_PREFIX)
    if not model:
        raise ValueError(
            "--calculator model: needs a model, e.g. model:default, "
            "model:gfn2-xtb or model:path/to/model.safetensors"
        )
    members = [part.strip() for part in model.split(",")]
    if not all(members):
        raise ValueError(
            f"--calculator {name}: an empty model name between commas; give "
            "model:A.safetensors,B.safetensors for a committee of files"
        )
    chosen: str | list[str] | None = (
        None if model == "default" else members[0] if len(members) == 1 else members
    )
    return functools.partial(PhononGNNCalc, chosen, **(options or {})), name
