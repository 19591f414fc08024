"""The one JSON sanitiser: what every record, report and results file passes through."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types, for strict JSON (``allow_nan=False``).

    Mappings become dicts with string keys, lists and tuples lists, numpy
    arrays and scalars Python lists and numbers; non-finite floats (NaN,
    ±inf) become None; objects JSON cannot represent become their ``str``.

    Parameters
    ----------
    value
        Any nesting of mappings, sequences, numpy arrays and scalars.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"mae": np.float32(0.5), "r2": float("nan"), 3: (1, 2)})
    {'mae': 0.5, 'r2': None, '3': [1, 2]}
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)
