"""Row errors and the parse report: the first errors in file order, and how many there were in all."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pyarrow as pa

from audits.ingest.messages import shown

if TYPE_CHECKING:
    from audits.ingest.columns.base import Message

# Heap entries: (line, column position, sequence, error), negated by _neg so the heap keeps the first.
_ErrorKey: TypeAlias = "tuple[int, int, int, RowError]"

# What a check finds in a batch: (column, mask of the rows, message).
Problem: TypeAlias = "tuple[str, np.ndarray, Message]"

MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class RowError:
    line: int | None
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": self.value, "message": self.message}


@dataclass
class ParseReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    warnings: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    period_start: date | None = None
    period_end: date | None = None
    sha256: str = ""
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


class TypedReadFailed(Exception):
    """A value did not convert in the fast typed read; the file must be checked again as text."""


class ExtractRejected(Exception):
    """The file was refused; ``report`` holds the errors."""

    def __init__(self, report: ParseReport):
        super().__init__(f"{report.error_count} error(s)")
        self.report = report


class Errors:
    """The first ``limit`` errors, by line then by the column's place in the definition, kept in a heap;
    ``report.error_count`` counts them all."""

    def __init__(self, report: ParseReport, column_names: list[str], limit: int):
        self.report = report
        self.limit = limit
        self._columns = {name: i for i, name in enumerate(column_names)}
        self._heap: list[_ErrorKey] = []
        self._sequence = 0

    def add(self, errors: list[RowError], total: int) -> None:
        self.report.error_count += total
        for error in errors:
            self._sequence += 1
            line = error.line if error.line is not None else 0
            key = (line, self._columns.get(error.column, -1), self._sequence, error)
            if len(self._heap) < self.limit:
                heapq.heappush(self._heap, _neg(key))
            elif _neg(key) > self._heap[0]:
                heapq.heapreplace(self._heap, _neg(key))

    def add_file_error(self, message: str) -> None:
        """A problem of the whole file, reported on its first line."""
        self.add([RowError(1, "", "", message)], 1)

    def record(self, problems: list[Problem], raw: dict[str, pa.Array], lines: np.ndarray) -> None:
        """A batch's problems: the first rows of each as errors, all counted."""
        found: list[RowError] = []
        total = 0
        for name, mask, message in problems:
            count = int(mask.sum())
            if not count:
                continue
            total += count
            positions = np.flatnonzero(mask)[: self.limit]
            values = (
                [_as_shown(v) for v in raw[name].take(pa.array(positions)).to_pylist()]
                if name in raw
                else [""] * len(positions)
            )
            for position, value in zip(positions, values, strict=True):
                text = message(value) if callable(message) else message
                found.append(RowError(int(lines[position]), name, value, text))
        if total:
            self.add(found, total)

    def clear(self) -> None:
        """Forget every error so far (a later check explains them all)."""
        self._heap.clear()
        self.report.error_count = 0

    def first(self) -> list[RowError]:
        """The errors kept, in file order."""
        return [item[3] for item in sorted((_neg(k) for k in self._heap), key=lambda k: k[:3])]


def _neg(key: _ErrorKey) -> _ErrorKey:
    """heapq is a min-heap: invert the sort key so the heap keeps the *first* errors."""
    line, col, seq, error = key
    return (-line, -col, -seq, error)


def _as_shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return shown(str(value))
