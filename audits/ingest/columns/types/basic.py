"""The types whose values are read as they are written: text, whole numbers, dates, true or false."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from audits.ingest.columns.base import ColumnType, Converted, arrow_type, true_mask
from audits.ingest.messages import quoted

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from audits.ingest.parse.providers import ProviderLookup
    from audits.schema import Column, Fail

TRUE_WORDS = ("true", "y", "yes", "1")
FALSE_WORDS = ("false", "n", "no", "0")
EARLIEST_DATE = date(1900, 1, 1)


def _blank_to_null(values: pa.Array, blank: np.ndarray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(blank), pa.nulls(len(values), values.type), values) if blank.any() else values


# -- text ------------------------------------------------------------------------------------------------------


def _as_text(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import numpy as np

    return _blank_to_null(values, blank), np.zeros(len(values), bool), "", blank


# -- integer ---------------------------------------------------------------------------------------------------


def _as_integer(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # fast path: every value is a plain whole number (the usual case), or Arrow read them typed
        numbers = pc.cast(_blank_to_null(values, blank) if pa.types.is_string(values.type) else values, pa.int64())
        whole = ~blank
    except pa.ArrowInvalid:  # find the bad values; "+5" is also accepted here
        whole = true_mask(pc.match_substring_regex(values, r"^[+-]?[0-9]{1,9}$"))
        numbers = pc.cast(pc.if_else(pa.array(whole), values, pa.nulls(len(values), pa.string())), pa.int64())
    if len(values) and not blank.all():
        low, high = pc.min_max(numbers).values()
        if low.is_valid and (low.as_py() < -(2**31) or high.as_py() >= 2**31):
            whole &= np.abs(np.asarray(numbers.fill_null(0))) < 2**31
    invalid = ~whole & ~blank
    arr = np.asarray(numbers.fill_null(0))
    out_of_range = np.zeros(len(values), bool)
    if column.min is not None:
        out_of_range |= whole & (arr < column.min)
    if column.max is not None:
        out_of_range |= whole & (arr > column.max)
    bounds = _bounds_text(column)
    message_range = f"{column.name} must be a whole number {bounds}"
    typed = pc.cast(pc.if_else(pa.array(out_of_range), pa.nulls(len(values), pa.int64()), numbers), pa.int32())
    return (
        typed,
        invalid | out_of_range,
        lambda v: f"{quoted(v)} is not a whole number" if not _is_whole(v) else message_range,
        blank,
    )


def _is_whole(value: str) -> bool:
    text = value.strip().lstrip("+-")
    return text.isdigit() and len(text) <= 9


def _bounds_text(column: Column) -> str:
    if column.min is not None and column.max is not None:
        return f"from {column.min} to {column.max}"
    if column.min is not None:
        return f"of at least {column.min}"
    return f"of at most {column.max}"


def _integer_options(entry: Mapping[str, Any], fail: Fail, where: str) -> dict[str, Any]:
    lo, hi = entry.get("min"), entry.get("max")
    for bound in (lo, hi):
        if bound is not None and not isinstance(bound, int):
            raise fail("min and max are whole numbers for integer columns", where)
    return {"min": lo, "max": hi}


# -- date ------------------------------------------------------------------------------------------------------


def _as_date(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # fast path: every value is a valid ISO date (Arrow's cast checks days in the month)
        typed = pc.cast(_blank_to_null(values, blank), pa.date32()) if pa.types.is_string(values.type) else values
        ok = ~blank
    except pa.ArrowInvalid:
        typed, ok = _parse_dates(values)
    n = len(values)
    early = ok & true_mask(pc.less(typed, pa.scalar(EARLIEST_DATE)))
    if early.any():
        typed = pc.if_else(pa.array(early), pa.nulls(n, pa.date32()), typed)
    invalid = (~ok & ~blank) | early
    return (
        typed,
        invalid,
        lambda v: (
            f"{column.name} is before {EARLIEST_DATE.year}; check the date"
            if _looks_like_date(v)
            else f"{quoted(v)} is not a date: use YYYY-MM-DD or DD/MM/YYYY"
        ),
        blank,
    )


def _parse_dates(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Mixed YYYY-MM-DD and DD/MM/YYYY, with bad values found (and nulled) one by one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    iso = true_mask(pc.match_substring_regex(values, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    dmy = true_mask(pc.match_substring_regex(values, r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"))
    parsed_iso = pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True)
    parsed_dmy = pc.strptime(values, format="%d/%m/%Y", unit="s", error_is_null=True)
    stamp = pc.if_else(pa.array(iso), parsed_iso, pc.if_else(pa.array(dmy), parsed_dmy, pa.nulls(n, pa.timestamp("s"))))
    # strptime rolls 30 February over to March: check the parts survive the round trip.
    parts = pc.extract_regex(
        values,
        r"^(?:(?P<y1>[0-9]{4})-(?P<m1>[0-9]{2})-(?P<d1>[0-9]{2})|(?P<d2>[0-9]{1,2})/(?P<m2>[0-9]{1,2})/(?P<y2>[0-9]{4}))$",
    )

    def part(a: str, b: str) -> np.ndarray:
        first = pc.struct_field(parts, a)
        second = pc.struct_field(parts, b)
        text = pc.if_else(pa.array(iso), first, second)
        return np.asarray(pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64()).fill_null(0))

    year, month, day = part("y1", "y2"), part("m1", "m2"), part("d1", "d2")
    ok = (iso | dmy) & np.asarray(stamp.is_valid(), bool)
    stamp_filled = stamp.fill_null(pa.scalar(0, pa.timestamp("s")))
    ok &= (
        (np.asarray(pc.year(stamp_filled)) == year)
        & (np.asarray(pc.month(stamp_filled)) == month)
        & (np.asarray(pc.day(stamp_filled)) == day)
    )
    typed = pc.cast(pc.if_else(pa.array(ok), stamp, pa.nulls(n, pa.timestamp("s"))), pa.date32())
    return typed, ok


def _looks_like_date(value: str) -> bool:
    """A real calendar date in one of the accepted forms (only used to word an error)."""
    text = value.strip()
    try:
        if "/" in text:
            day, month, year = (int(part) for part in text.split("/"))
            date(year, month, day)
        else:
            date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _date_options(entry: Mapping[str, Any], fail: Fail, where: str) -> dict[str, Any]:
    return {"not_after_extract_date": bool(entry.get("not_after_extract_date", False))}


def _pandas_dates(values: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_datetime(values)


# -- boolean ---------------------------------------------------------------------------------------------------


def _as_boolean(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(values.type):
        return values, np.zeros(len(values), bool), "", blank
    lower = pc.utf8_lower(values)
    truthy = true_mask(pc.is_in(lower, value_set=pa.array(TRUE_WORDS)))
    falsy = true_mask(pc.is_in(lower, value_set=pa.array(FALSE_WORDS)))
    invalid = ~truthy & ~falsy & ~blank
    typed = pc.if_else(pa.array(truthy | falsy), pa.array(truthy), pa.nulls(len(values), pa.bool_()))
    return typed, invalid, lambda v: f"{quoted(v)} is not true or false (use true/false, yes/no, y/n or 1/0)", blank


TYPES = (
    ColumnType("text", _as_text, arrow_type("string"), "text", "text", "CharField", api_options={"allow_blank": True}),
    ColumnType(
        "integer",
        _as_integer,
        arrow_type("int32"),
        "integer",
        "integer",
        "IntegerField",
        keys=frozenset({"min", "max"}),
        options=_integer_options,
        typed_read=True,
        pandas=lambda values: values.astype("Int32"),
    ),
    ColumnType(
        "date",
        _as_date,
        arrow_type("date32"),
        "date",
        "date",
        "DateField",
        keys=frozenset({"not_after_extract_date"}),
        options=_date_options,
        typed_read=True,
        pandas=_pandas_dates,
    ),
    ColumnType(
        "boolean",
        _as_boolean,
        arrow_type("bool"),
        "boolean",
        "boolean",
        "BooleanField",
        typed_read=True,
        pandas=lambda values: values.astype("boolean"),
    ),
)
