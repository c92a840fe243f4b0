"""The data-quality report: completeness by column and by trust, measured batch by batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audits.ingest.columns.base import true_mask
from audits.ingest.parse.rules import when_mask
from audits.schema import AuditDefinition, Column, Rule


class Completeness:
    """A column is complete for a patient it applies to (``applies_when``) when it holds a value that is not an
    unknown code (``unknown_codes``)."""

    def __init__(self, definition: AuditDefinition):
        self.definition = definition
        self._provider_index: dict[str, int] = {}
        self._provider_rows = np.zeros(0, dtype=np.int64)
        self._provider_filled: dict[str, np.ndarray] = {}
        self._filled = {c.name: 0 for c in definition.columns}  # recorded: not blank, not an unknown code
        self._applies = {c.name: 0 for c in definition.columns}  # rows the column applies to
        self._unknown = {c.name: 0 for c in definition.columns}  # an unknown code where it applies
        self._provider_applies: dict[str, np.ndarray] = {}

    def measure(self, typed: dict[str, pa.Array]) -> None:
        """Completeness by column and by provider, for the data-quality report."""
        provider = typed[self.definition.provider]
        encoded = pc.dictionary_encode(provider)
        for code in encoded.dictionary.to_pylist():
            if code not in self._provider_index:
                self._provider_index[code] = len(self._provider_index)
        width = len(self._provider_index)
        mapping = np.array([self._provider_index[c] for c in encoded.dictionary.to_pylist()], dtype=np.int64)
        valid_provider = np.asarray(encoded.indices.is_valid(), dtype=bool)
        index = mapping[np.asarray(encoded.indices.fill_null(0), dtype=np.int64)] if len(mapping) else None
        if index is not None:
            index = index[valid_provider]
        rows = np.bincount(index, minlength=width) if index is not None else np.zeros(width, dtype=np.int64)
        self._provider_rows = _grow(self._provider_rows, width) + rows

        def per_provider(mask: np.ndarray) -> np.ndarray:
            if index is None:
                return np.zeros(width, dtype=np.int64)
            return np.bincount(index, weights=mask[valid_provider], minlength=width).astype(np.int64)

        n = len(provider)
        for column in self.definition.columns:
            # Recorded: a value that is not one of the column's unknown codes; counted among the rows
            # the column applies to (all rows unless the definition says applies_when).
            filled = np.asarray(typed[column.name].is_valid(), dtype=bool)
            applies = when_mask(column.applies_when, typed) if column.applies_when else None
            if column.unknown_codes:
                unknown = true_mask(pc.is_in(typed[column.name], value_set=pa.array(column.unknown_codes, pa.string())))
                if applies is not None:
                    unknown = unknown & applies
                self._unknown[column.name] += int(unknown.sum())
                filled = filled & ~unknown
            if applies is not None:
                filled = filled & applies
            self._filled[column.name] += int(filled.sum())
            self._applies[column.name] += n if applies is None else int(applies.sum())
            self._provider_filled[column.name] = _grow(
                self._provider_filled.get(column.name, np.zeros(0, np.int64)), width
            ) + per_provider(filled)
            if applies is not None:
                self._provider_applies[column.name] = _grow(
                    self._provider_applies.get(column.name, np.zeros(0, np.int64)), width
                ) + per_provider(applies)

    def report(self, rows: int, present: list[Column]) -> dict[str, Any]:
        """Completeness by column and by trust: ``filled`` counts the complete values, ``missing`` the rest (blanks
        and ``unknown``) among ``applies_to``; ``present`` are the columns in the file."""
        columns = []
        for column in self.definition.columns:
            filled, applies = self._filled[column.name], self._applies[column.name]
            columns.append(
                {
                    "column": column.name,
                    "required": column.required,
                    "present_in_file": column in present,
                    "applies_to": applies,
                    "applies_when": Rule(type="", column=column.name, when=column.applies_when).describe_when(),
                    "filled": filled,
                    "unknown": self._unknown[column.name],
                    "missing": applies - filled,
                    "percent_complete": round(100.0 * filled / applies, 1) if applies else None,
                }
            )
        providers = []
        for code, i in sorted(self._provider_index.items(), key=lambda item: str(item[0])):
            if code is None or i >= len(self._provider_rows):
                continue
            count = int(self._provider_rows[i])

            def share(name: str, i: int = i, count: int = count) -> float | None:
                applies = self._provider_applies.get(name)
                among = count if applies is None else int(_grow(applies, i + 1)[i])
                return round(100.0 * int(self._provider_filled[name][i]) / among, 1) if among else None

            completeness = {c.name: share(c.name) for c in self.definition.columns if not c.required}
            providers.append({"provider_code": code, "rows": count, "percent_complete": completeness})
        optional = [c.name for c in self.definition.columns if not c.required]
        return {"rows": rows, "columns": columns, "providers": providers, "optional_columns": optional}


def _grow(array: np.ndarray, width: int) -> np.ndarray:
    if len(array) >= width:
        return array
    return np.concatenate([array, np.zeros(width - len(array), dtype=array.dtype)])
