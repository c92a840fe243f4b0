"""The types whose values must be one of a list: a definition's codes, or the known NHS trust codes (ODS).

A value is looked up as written, then, if some value is not found, with the spaces around it trimmed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from audits.ingest.columns.base import ColumnType, Converted, arrow_type, blank_mask
from audits.ingest.messages import quoted

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from audits.ingest.parse.providers import ProviderLookup
    from audits.schema import Column, Fail


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


TYPES = (
    ColumnType(
        "code",
        _as_code,
        arrow_type("string"),
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
        arrow_type("string"),
        "text",
        "text",
        "CharField",
        trim=False,  # trimmed only if a value is not a known code (_lookup)
        api_options={"allow_blank": True},
    ),
)
