"""What a column type is (``ColumnType``), and the Arrow helpers its converters share with the parser.

The concrete types are declared in ``audits.ingest.columns.registry``. Pure: no Django, no database; numpy and
pyarrow are imported by the functions that use them, when a file is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from audits.ingest.parse.providers import ProviderLookup
    from audits.schema import Column, Fail

# A reported problem's text, or a function that words it from the value as shown.
Message: TypeAlias = "str | Callable[[str], str]"
# A converter's result: (typed array, invalid mask, message, blank mask).
Converted: TypeAlias = "tuple[pa.Array, np.ndarray, Message, np.ndarray]"
Converter: TypeAlias = "Callable[[Column, pa.Array, np.ndarray, ProviderLookup], Converted]"
# Checks a column entry's own keys (the entry, the error builder, where) and returns them normalised.
OptionCheck: TypeAlias = "Callable[[Mapping[str, Any], Fail, str], dict[str, Any]]"


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


def arrow_type(alias: str) -> Callable[[Column], pa.DataType]:
    """A type's ``arrow``: the same Arrow type, named by its alias, for every column."""

    def arrow(column: Column) -> pa.DataType:
        import pyarrow as pa

        return pa.type_for_alias(alias)

    return arrow


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
