"""A covariate specification (plain data, :mod:`indicators.stats.risk_spec`) read against the data.

Each covariate's values become codes (categorical) or numbers (numeric, boolean), with the rows
where it is missing; the audit year is read as one more categorical covariate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from indicators.stats.risk_spec import (
    COVARIATE_KEYS,
    COVARIATE_TYPES,
    MISSING_HANDLING,
    TRANSFORMS,
    WITHDRAWN_MISSING,
)

__all__ = ["YEAR_TERM", "Covariate", "parse_interactions", "parse_spec", "year_covariate"]

YEAR_TERM = "audit_year"

_TYPES = set(COVARIATE_TYPES)
_KEYS = COVARIATE_KEYS
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass
class Covariate:
    """One covariate: its specification, its values per input row, and what is learned of it
    on the complete cases (:mod:`.levels`)."""

    column: str
    type: str
    missing: str
    transform: str | None
    reference: Any = None
    label: str = ""
    # per input row: categorical codes into ``uniques`` (-1 missing), else values (NaN missing)
    codes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    uniques: list[Any] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    missing_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    n_missing: int = 0
    # learned on the complete cases
    centre: float | None = None
    group_of: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    groups: list[str] = field(default_factory=list)
    ref_group: int = 0
    dropped_levels: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)

    def raw(self, rows: np.ndarray) -> np.ndarray:
        source: np.ndarray = self.codes if self.type == "categorical" else self.values
        return np.asarray(source[rows])


def parse_spec(frame: pd.DataFrame, covariates: Sequence[Mapping[str, Any]]) -> list[Covariate]:
    """Check each covariate's specification and read its column of ``frame``; ValueError says what is wrong."""
    parsed: list[Covariate] = []
    seen: set[str] = set()
    for i, spec in enumerate(covariates):
        if not isinstance(spec, Mapping) or "column" not in spec or "type" not in spec:
            raise ValueError(f"covariate {i}: needs at least 'column' and 'type'")
        unknown = set(spec) - _KEYS
        if unknown:
            raise ValueError(f"covariate {spec['column']!r}: unknown keys {sorted(unknown)}")
        column, kind = str(spec["column"]), spec["type"]
        if kind not in _TYPES:
            raise ValueError(f"covariate {column!r}: type must be one of {sorted(_TYPES)}")
        if column not in frame.columns:
            raise ValueError(f"covariate {column!r}: no such column in the data")
        if column in seen or column == YEAR_TERM:
            raise ValueError(f"covariate {column!r} is listed twice (or is the audit year)")
        seen.add(column)
        missing = spec.get("missing", "impute" if kind == "categorical" else "exclude")
        if missing in WITHDRAWN_MISSING:
            raise ValueError(f"covariate {column!r}: {WITHDRAWN_MISSING[missing]}")
        if missing not in MISSING_HANDLING:
            raise ValueError(f"covariate {column!r}: missing must be one of {', '.join(MISSING_HANDLING)}")
        transform = spec.get("transform")
        if transform is not None and (transform not in TRANSFORMS or kind != "numeric"):
            raise ValueError(f"covariate {column!r}: only numeric covariates take transform 'square'")
        if "reference" in spec and kind != "categorical":
            raise ValueError(f"covariate {column!r}: only categorical covariates take a reference")
        c = Covariate(column, kind, missing, transform, reference=spec.get("reference"))
        c.label = column.replace("_", " ")
        _read(c, frame[column])
        parsed.append(c)
    return parsed


def _read(c: Covariate, series: pd.Series) -> None:
    if c.type == "categorical":
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        c.codes, c.uniques = codes.astype(np.int64), list(uniques)
        c.missing_rows = codes < 0
    else:
        c.values = _as_numeric(series, c.column) if c.type == "numeric" else _as_boolean(series, c.column)
        c.missing_rows = np.isnan(c.values)


def _as_numeric(series: pd.Series, column: str) -> np.ndarray:
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & series.notna().to_numpy()
    bad |= np.isinf(values)
    if bad.any():
        example = series[bad].iloc[0]
        raise ValueError(f"covariate {column!r}: {int(bad.sum())} values are not numbers (e.g. {example!r})")
    return values


def _as_boolean(series: pd.Series, column: str) -> np.ndarray:
    """0.0/1.0 with NaN for missing; accepts bools, 0/1 and yes/no style text."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.empty(len(uniques), dtype=np.float64)
    for j, level in enumerate(uniques):
        text = str(level).strip().lower()
        if isinstance(level, (bool, np.bool_)):
            mapped[j] = float(level)
        elif isinstance(level, (int, float, np.integer, np.floating)) and level in (0, 1):
            mapped[j] = float(level)
        elif text in _TRUE:
            mapped[j] = 1.0
        elif text in _FALSE:
            mapped[j] = 0.0
        else:
            raise ValueError(f"covariate {column!r}: {level!r} is not a yes/no value")
    out = np.full(codes.size, np.nan)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    return out


def year_covariate(year: Any, n: int) -> Covariate:
    """The audit year of each of ``n`` rows as a categorical covariate (missing where not finite)."""
    years = np.asarray(year, dtype=np.float64)
    if years.shape != (n,):
        raise ValueError("year must give one audit year per row")
    year_c = Covariate(YEAR_TERM, "categorical", "exclude", None, label="audit year")
    known = np.isfinite(years)
    uniques = np.unique(years[known])
    year_c.codes = np.where(known, np.searchsorted(uniques, np.nan_to_num(years)), -1).astype(np.int64)
    year_c.uniques, year_c.missing_rows = [int(u) for u in uniques], ~known
    return year_c


def parse_interactions(interactions: Sequence[Sequence[str]], specs: list[Covariate]) -> list[tuple[str, str]]:
    """The pairs of declared covariates that interact, each given once."""
    by_column = {c.column for c in specs}
    pairs: list[tuple[str, str]] = []
    for pair in interactions:
        if len(pair) != 2:
            raise ValueError(f"interaction {list(pair)!r}: give exactly two column names")
        a, b = str(pair[0]), str(pair[1])
        if a == b or a not in by_column or b not in by_column:
            raise ValueError(f"interaction {[a, b]!r}: both columns must be distinct, declared covariates")
        if (a, b) in pairs or (b, a) in pairs:
            raise ValueError(f"interaction {[a, b]!r} is listed twice")
        pairs.append((a, b))
    return pairs
