"""Column types: each declared once, here, with everything the platform does with it.

A definition file's column names a type (``type: integer``); ``COLUMN_TYPES`` maps that name to a
``ColumnType``, which says

- the definition keys it adds to the common ones (``keys``) and how they are checked (``options``);
- how a value is read: its converter (text, or what Arrow's typed read gave, to typed Arrow values, the bad
  ones and a message for them), whether Arrow's CSV reader converts it itself in the fast typed read
  (``typed_read``; ``audits.services.import_extract`` falls back to text on the first value it cannot convert),
  and whether spaces around a value are trimmed first;
- how it is stored: the Arrow type of its values (also the type a PostgreSQL binary COPY sends) and its SQL type
  on PostgreSQL and on SQLite;
- how it is read back: the pandas dtype the computation gets (``audits.selectors.release_frame``);
- how the API serves it: a Django REST framework field, by name, with its arguments (``api.serializers``).

Every other module asks this one; adding a type is one entry here plus its tests. The definitions are checked
at start-up, which loads no numerical library (``tests/test_startup.py``): numpy and pyarrow are imported by the
functions that use them, when a file is read. Pure: no Django, no database.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

from audits.ingest.messages import quoted

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from audits.ingest.parse import ProviderLookup
    from audits.schema import Column, Fail

# A reported problem's text, or a function that words it from the value as shown.
Message: TypeAlias = "str | Callable[[str], str]"
# A converter's result: (typed array, invalid mask, message, blank mask).
Converted: TypeAlias = "tuple[pa.Array, np.ndarray, Message, np.ndarray]"
Converter: TypeAlias = "Callable[[Column, pa.Array, np.ndarray, ProviderLookup], Converted]"
# Checks a column entry's own keys (the entry, the error builder, where) and returns them normalised.
OptionCheck: TypeAlias = "Callable[[Mapping[str, Any], Fail, str], dict[str, Any]]"

TRUE_WORDS = ("true", "y", "yes", "1")
FALSE_WORDS = ("false", "n", "no", "0")
EARLIEST_DATE = date(1900, 1, 1)


def _no_options(entry: Mapping[str, Any], fail: Fail, where: str) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ColumnType:
    name: str
    convert: Converter
    arrow: Callable[[Column], pa.DataType]  # the typed values' Arrow type, as stored
    postgresql: str  # SQL type of the stored column
    sqlite: str
    api_field: str  # rest_framework.serializers field class serving a value
    keys: frozenset[str] = frozenset()  # definition keys of this type only
    options: OptionCheck = _no_options
    typed_read: bool = False  # Arrow's CSV reader converts the values itself in the fast typed read
    trim: bool = True  # spaces around a value are trimmed before it is converted
    pandas: Callable[[pd.Series], pd.Series] | None = None  # the values as the computation reads them
    api_options: Mapping[str, Any] = field(default_factory=dict)


# -- Arrow helpers (also the parser's) ------------------------------------------------------------------------


def true_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy mask, null as False."""
    import numpy as np
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(array, False), dtype=bool)


def blank_mask(values: pa.Array) -> np.ndarray:
    """Missing: empty in the file (null when Arrow read it typed, "" when read as text)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(values.type):
        return ~true_mask(pc.not_equal(values, ""))
    return ~np.asarray(values.is_valid(), bool)


def _blank_to_null(values: pa.Array, blank: np.ndarray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(blank), pa.nulls(len(values), values.type), values) if blank.any() else values


def case_variants(words: tuple[str, ...]) -> list[str]:
    """Every upper/lower-case spelling: Arrow's boolean reader compares exactly."""
    out = []
    for word in words:
        out += ["".join(chars) for chars in itertools.product(*[(c.lower(), c.upper()) for c in word])]
    return sorted(set(out))


def _arrow(alias: str) -> Callable[[Column], pa.DataType]:
    def arrow(column: Column) -> pa.DataType:
        import pyarrow as pa

        return pa.type_for_alias(alias)

    return arrow


# -- text, code, provider -------------------------------------------------------------------------------------


def _as_text(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import numpy as np

    return _blank_to_null(values, blank), np.zeros(len(values), bool), "", blank


def _lookup(
    values: pa.Array, blank: np.ndarray, keys: list[str], fold: Callable[[pa.Array], pa.Array]
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Index of each value in ``keys`` (after case folding); trims spaces only if some value fails."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    index = pc.index_in(fold(values), value_set=pa.array(keys, pa.string()))
    failed = ~np.asarray(index.is_valid(), bool) & ~blank
    if failed.any():
        values = pc.utf8_trim_whitespace(values)
        blank = blank_mask(values)
        index = pc.index_in(fold(values), value_set=pa.array(keys, pa.string()))
        failed = ~np.asarray(index.is_valid(), bool) & ~blank
    return index, failed, blank


def _as_code(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = list(column.codes)
    index, invalid, blank = _lookup(values, blank, [c.lower() for c in codes], pc.utf8_lower)
    typed = pc.take(pa.array(codes), index)
    allowed = ", ".join(codes)
    return typed, invalid, lambda v: f"{quoted(v)} is not an allowed {column.name} (allowed: {allowed})", blank


def _code_options(entry: Mapping[str, Any], fail: Fail, where: str) -> dict[str, Any]:
    codes = tuple(str(c) for c in entry.get("codes") or ())
    if not codes:
        raise fail("a code column needs a list of codes", where)
    if len({c.lower() for c in codes}) != len(codes):
        raise fail("codes must differ other than in case", where)
    unknown = entry.get("unknown_codes")
    if unknown is not None and (not isinstance(unknown, list) or not {str(c) for c in unknown} <= set(codes)):
        raise fail("unknown_codes must be a list of the column's own codes (e.g. [U])", where, "unknown_codes")
    return {"codes": codes, "unknown_codes": tuple(str(c) for c in unknown or ())}


def _as_provider(column: Column, values: pa.Array, blank: np.ndarray, providers: ProviderLookup) -> Converted:
    import pyarrow as pa
    import pyarrow.compute as pc

    known = sorted(providers.current | set(providers.successors))
    index, invalid, blank = _lookup(values, blank, known, pc.utf8_upper)
    typed = pc.take(pa.array([providers.resolve(code) for code in known], pa.string()), index)
    return (
        typed,
        invalid,
        lambda v: f"{quoted(v)} is not a known NHS trust code (ODS); check the code or load the current organisations",
        blank,
    )


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


# -- decimal ---------------------------------------------------------------------------------------------------
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


# -- the registry ----------------------------------------------------------------------------------------------

COLUMN_TYPES: dict[str, ColumnType] = {
    kind.name: kind
    for kind in (
        ColumnType("text", _as_text, _arrow("string"), "text", "text", "CharField", api_options={"allow_blank": True}),
        ColumnType(
            "integer",
            _as_integer,
            _arrow("int32"),
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
            _arrow("date32"),
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
            _arrow("bool"),
            "boolean",
            "boolean",
            "BooleanField",
            typed_read=True,
            pandas=lambda values: values.astype("boolean"),
        ),
        ColumnType(
            "code",
            _as_code,
            _arrow("string"),
            "text",
            "text",
            "CharField",
            keys=frozenset({"codes", "unknown_codes"}),
            options=_code_options,
            trim=False,  # trimmed only if a value is not one of the codes (_lookup)
            api_options={"allow_blank": True},
        ),
        ColumnType(
            "provider",
            _as_provider,
            _arrow("string"),
            "text",
            "text",
            "CharField",
            trim=False,  # trimmed only if a value is not a known code (_lookup)
            api_options={"allow_blank": True},
        ),
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
}
