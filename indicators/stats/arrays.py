"""Number coercion shared by the statistics modules and their readers (numpy only, so light modules stay light)."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FloatArray", "as_float", "finite_or_none"]

FloatArray = NDArray[np.float64]


def as_float(x: ArrayLike | None) -> FloatArray:
    """Coerce scalars, lists, Series or arrays to a float ndarray.

    Missing values (None, pandas NA) become NaN so they flow through every
    formula as "undefined" instead of raising.
    """
    if x is None:
        return np.asarray(np.nan, dtype=float)
    arr = np.asarray(x)
    if arr.dtype == object:
        # pandas.NA can only exist once pandas is imported; this module does not import it.
        pandas = sys.modules.get("pandas")
        na = pandas.NA if pandas is not None else None
        flat = [np.nan if (v is None or (na is not None and v is na)) else v for v in arr.ravel()]
        return np.asarray(flat, dtype=float).reshape(arr.shape)
    return arr.astype(float, copy=False)


def finite_or_none(value: Any) -> float | None:
    """A number as a JSON-safe float: None for a missing, non-numeric, NaN or infinite value."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
