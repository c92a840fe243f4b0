"""The decimal type: a measurement with a fixed number of decimal places."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from audits.ingest.columns.base import ColumnType, Converted, true_mask
from audits.ingest.messages import quoted

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from audits.ingest.parse.providers import ProviderLookup
    from audits.schema import Column, Fail

# A measurement with a fixed number of decimal places, e.g. a PSA of 4.25 ng/ml (``places: 2``). Plain decimal
# notation only (4.25, +4.25, .5, 4.); "4.250" has two places. Stored exactly: numeric on PostgreSQL (no scale, so
# a layout's table serves releases whose definitions differ in places), Arrow decimal128 (which PostgreSQL's
# binary COPY takes as numeric), and text on SQLite, whose REAL would round a value to a binary fraction. At most
# DECIMAL_DIGITS significant digits: a value then reads into the computation's Float64 as the nearest double, and
# two values of a column keep their order (a rate or a model needs no more). Arrow's typed read leaves decimals as
# text, for this one converter to read in both readings: its own decimal reader takes 1e2, which is refused here.
DECIMAL_DIGITS = 15
MAX_PLACES = 9
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"
# The digits that count: before the point without leading zeros, after it without trailing zeros.
_DIGIT_PARTS = ("sign", "whole", "fraction")
_DIGITS = r"^(?P<sign>[+-]?)0*(?P<whole>[0-9]*)\.?(?P<fraction>[0-9]*?)0*$"


def _as_decimal(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    places: int = column.option("places")
    kind = _decimal_arrow(column)
    number = true_mask(pc.match_substring_regex(values, _NUMBER))
    sign, whole, fraction = (pc.struct_field(pc.extract_regex(values, _DIGITS), part) for part in _DIGIT_PARTS)
    ok = (
        number
        & (np.asarray(pc.utf8_length(whole).fill_null(0)) <= DECIMAL_DIGITS - places)
        & (np.asarray(pc.utf8_length(fraction).fill_null(0)) <= places)
    )
    # Arrow reads the digits that count (a long run of zeros would overflow its reading): e.g. "-04.50" for -4.5.
    digits = pc.binary_join_element_wise(sign, "0", whole, ".", fraction, "0", "")
    typed = pc.cast(pc.if_else(pa.array(ok), digits, pa.nulls(len(values), pa.string())), kind)
    lo, hi = column.min, column.max
    if lo is not None:
        ok &= ~true_mask(pc.less(typed, pa.scalar(lo, kind)))
    if hi is not None:
        ok &= ~true_mask(pc.greater(typed, pa.scalar(hi, kind)))
    typed = pc.if_else(pa.array(ok), typed, pa.nulls(len(values), kind))
    return typed, ~ok & ~blank, lambda v: _decimal_problem(column, v), blank


def _decimal_problem(column: Column, value: str) -> str:
    """Why a value of a decimal column was refused (worded for one of the at most 100 reported errors)."""
    text = value.strip()
    places: int = column.option("places")
    if not re.match(_NUMBER, text):
        return f"{quoted(value)} is not a number"
    whole, _, fraction = text.lstrip("+-").partition(".")
    if len(fraction.rstrip("0")) > places:
        return f"{quoted(value)} has more than {places} decimal places"
    if len(whole.lstrip("0")) > DECIMAL_DIGITS - places:
        return f"{quoted(value)} has more than {DECIMAL_DIGITS - places} digits before the decimal point"
    if column.min is not None and Decimal(text) < column.min:
        return f"{quoted(value)} is below the minimum of {column.name} ({column.min})"
    return f"{quoted(value)} is above the maximum of {column.name} ({column.max})"


def _decimal_options(entry: Mapping[str, Any], fail: Fail, where: str) -> dict[str, Any]:
    places = entry.get("places")
    if places is None:
        raise fail("a decimal column needs places: how many decimal places its values have (e.g. 2)", where)
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= MAX_PLACES:
        raise fail(f"places must be a whole number from 0 to {MAX_PLACES}", where, "places")
    bounds = []
    for key in ("min", "max"):
        bound = entry.get(key)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise fail(f"{key} must be a number", where, key)
        exact = None if bound is None else Decimal(str(bound))
        if exact is not None and abs(exact) >= 10 ** (DECIMAL_DIGITS - places):
            raise fail(f"{key} has more than {DECIMAL_DIGITS - places} digits before the decimal point", where, key)
        if exact is not None and exact != round(exact, places):
            raise fail(f"{key} has more than {places} decimal places", where, key)
        bounds.append(exact)
    lo, hi = bounds
    if lo is not None and hi is not None and lo > hi:
        raise fail(f"min ({lo}) is above max ({hi})", where, "min")
    return {"min": lo, "max": hi, "places": places}


def _decimal_arrow(column: Column) -> pa.DataType:
    import pyarrow as pa

    return pa.decimal128(DECIMAL_DIGITS, column.option("places"))


TYPES = (
    ColumnType(
        "decimal",
        _as_decimal,
        _decimal_arrow,
        "numeric",
        "text",
        "DecimalField",  # the exact value as text, e.g. "4.25" (COERCE_DECIMAL_TO_STRING)
        keys=frozenset({"min", "max", "places"}),
        options=_decimal_options,
        pandas=lambda values: values.astype("Float64"),
        api_options={"max_digits": None, "decimal_places": None},
    ),
)
