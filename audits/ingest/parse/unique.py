"""A unique column's values, kept batch by batch with their lines; the repeats found once the file is read."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from audits.ingest.parse.report import RowError


class UniqueValues:
    def __init__(self) -> None:
        self._values: list[pa.Array] = []
        self._lines: list[np.ndarray] = []

    @property
    def empty(self) -> bool:
        return not self._values

    def add(self, values: pa.Array, lines: np.ndarray) -> None:
        self._values.append(values)
        self._lines.append(lines)

    def repeats(self, name: str, limit: int) -> tuple[list[RowError], int]:
        """The first ``limit`` values of column ``name`` that appeared on an earlier line, and how many there are."""
        values = pa.chunked_array(self._values, type=pa.string()).combine_chunks()
        lines = np.concatenate(self._lines)
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) == len(values) - values.null_count:  # every value distinct: the usual case
            return [], 0
        codes = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
        valid = codes >= 0
        counts = np.bincount(codes[valid], minlength=len(encoded.dictionary))
        repeated = valid.copy()
        repeated[valid] = counts[codes[valid]] > 1
        if not repeated.any():
            return [], 0
        _, first_position = np.unique(codes[valid], return_index=True)
        first_line = np.full(len(encoded.dictionary), 0, dtype=np.int64)
        first_line[np.unique(codes[valid])] = lines[valid][first_position]
        later = repeated & (lines != np.where(valid, first_line[np.maximum(codes, 0)], -1))
        positions = np.flatnonzero(later)
        found = [
            RowError(
                int(lines[p]),
                name,
                values[int(p)].as_py(),
                f"{name} is repeated: it first appears on line {int(first_line[codes[p]])}",
            )
            for p in positions[:limit]
        ]
        return found, len(positions)
