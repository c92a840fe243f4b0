"""Validate an audit extract: bytes in, typed Arrow batches and a row-level error report out.

Pure: no Django, no database. Validation is vectorised per batch with
pyarrow.compute; nothing loops over rows except to format the (at most 100)
reported errors. Line numbers count the header as line 1.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import heapq
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from audits.ingest.messages import bracketed, quoted
from audits.schema import AuditDefinition, Column, Rule

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# A reported problem's text, or a function that words it from the value as shown.
_Message: TypeAlias = "str | Callable[[str], str]"
# Heap entries: (line, column position, sequence, error), negated by _neg so the heap keeps the first.
_ErrorKey: TypeAlias = "tuple[int, int, int, RowError]"
# A column converter's result: (typed array, invalid mask, message, blank mask).
_Converted: TypeAlias = "tuple[pa.Array, np.ndarray, _Message, np.ndarray]"

MAX_REPORTED_ERRORS = 100
BLOCK_SIZE = 8 << 20
TRUE_WORDS = ("true", "y", "yes", "1")
FALSE_WORDS = ("false", "n", "no", "0")
EARLIEST_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class RowError:
    line: int | None
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class ProviderLookup:
    """Known trust codes, and predecessor codes with their successor and effective date."""

    current: frozenset[str]
    successors: dict[str, tuple[str, date]] = field(default_factory=dict)

    def resolve(self, code: str) -> str | None:
        seen = set()
        while code in self.successors and code not in seen:
            seen.add(code)
            code = self.successors[code][0]
        return code if code in self.current else None


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


class _CheckedStream(io.RawIOBase):
    """Hashes the bytes and checks they are UTF-8 while pyarrow reads them."""

    def __init__(self, raw: IO[bytes], prefix: bytes, parser: ExtractParser):
        self._raw = raw
        self._prefix = prefix
        self._parser = parser
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._newlines = 1  # the header line was read before this stream starts

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view:
            data = self.read(len(view))
            view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
        else:
            data = self._raw.read(size if size and size > 0 else BLOCK_SIZE)
        self._parser._account(data)
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            line = self._newlines + data.count(b"\n", 0, exc.start) + 1
            self._parser._encoding_error(line, data[exc.start : exc.start + 1])
            return b""
        self._newlines += data.count(b"\n")
        return data


class ExtractParser:
    """Streams a CSV extract through the definition's checks.

    Iterate ``batches(stream)`` for typed, normalised Arrow tables (one per block
    of the file), then call ``finish()`` for the report. Batches keep coming after
    an error so that the total can be counted; a consumer stops storing them as
    soon as ``ok`` is false.
    """

    def __init__(
        self,
        definition: AuditDefinition,
        extract_date: date,
        providers: ProviderLookup,
        max_errors: int = MAX_REPORTED_ERRORS,
        typed_reading: bool = False,
    ):
        # typed_reading: let Arrow's CSV reader convert numbers, dates and booleans itself (fast);
        # the first value it cannot convert raises TypedReadFailed, and the caller starts again
        # with typed_reading=False, which checks every value as text and reports each bad one.
        self.typed_reading = typed_reading
        self.definition = definition
        self.extract_date = extract_date
        self.providers = providers
        self.max_errors = max_errors
        self.report = ParseReport()
        self._heap: list[_ErrorKey] = []
        self._sequence = 0
        self._sha = hashlib.sha256()
        self._unique_values: list[pa.Array] = []
        self._unique_lines: list[np.ndarray] = []
        self._present: list[Column] = []
        self._structural: list[str] = []
        self._encoding_failed = False
        self._provider_index: dict[str, int] = {}
        self._provider_rows = np.zeros(0, dtype=np.int64)
        self._provider_filled: dict[str, np.ndarray] = {}
        self._filled = {c.name: 0 for c in definition.columns}
        self._predecessor_rows: dict[str, int] = {}
        self._late_predecessor_rows: dict[str, int] = {}
        self.bytes_read = 0
        self._finished = False

    @property
    def ok(self) -> bool:
        return self.report.error_count == 0

    # -- reading ---------------------------------------------------------
    def batches(self, stream: IO[bytes]) -> Iterator[pa.Table]:
        """Yield one typed table per block of rows."""
        self._stream = stream
        prefix = self._read_header(stream)
        if prefix is None:
            return
        names = self._header
        try:
            reader = pacsv.open_csv(
                _CheckedStream(stream, prefix, self),
                read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_SIZE, use_threads=True),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._invalid_row
                ),
                convert_options=self._convert_options(names),
            )
        except pa.ArrowInvalid as exc:  # no bytes after the header, or the first block was not UTF-8
            if self.typed_reading and "Empty CSV" not in str(exc) and not self._encoding_failed:
                raise TypedReadFailed(str(exc)) from exc
            if "Empty CSV" not in str(exc) and not self._encoding_failed:
                self._add_errors([RowError(None, "", "", f"the file cannot be read as CSV: {_csv_problem(exc)}")], 1)
            return
        next_line = 2
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if self.typed_reading and not self._encoding_failed:
                    raise TypedReadFailed(str(exc)) from exc
                if not self._encoding_failed:
                    self._add_errors(
                        [RowError(None, "", "", f"the file cannot be read as CSV: {_csv_problem(exc)}")], 1
                    )
                break
            lines = np.arange(next_line, next_line + batch.num_rows, dtype=np.int64)
            next_line += batch.num_rows
            table = self._validate(pa.Table.from_batches([batch]), lines)
            if table is not None:
                yield table

    def _convert_options(self, names: list[str]) -> pacsv.ConvertOptions:
        if not self.typed_reading:
            return pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
        declared = {c.name: c.type for c in self.definition.columns}
        return pacsv.ConvertOptions(
            column_types={n: _READ_TYPES.get(declared.get(n, "text"), pa.string()) for n in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            true_values=_case_variants(TRUE_WORDS),
            false_values=_case_variants(FALSE_WORDS),
        )

    def _read_header(self, stream: IO[bytes]) -> bytes | None:
        head = stream.read(64 * 1024)
        while b"\n" not in head:
            more = stream.read(64 * 1024)
            if not more:
                break
            head += more
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            self._file_error("the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8) and upload it again")
            return None
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
            self._account(codecs.BOM_UTF8)
        if not head.strip():
            self._file_error("the file is empty: it needs a header line and at least one row")
            return None
        end = head.find(b"\n")
        header_bytes, rest = (head, b"") if end < 0 else (head[: end + 1], head[end + 1 :])
        self._account(header_bytes)
        try:
            header_text = header_bytes.decode("utf-8")
        except UnicodeDecodeError:
            self._add_errors(
                [RowError(1, "", "", "the file is not UTF-8 encoded; save it as UTF-8 (in Excel: CSV UTF-8)")], 1
            )
            return None
        names = next(csv.reader([header_text.strip("\r\n")]), [])
        self._header = [n.strip().lower() for n in names]
        if not self._check_header():
            return None
        return rest

    def _check_header(self) -> bool:
        errors = []
        seen: set[str] = set()
        for name in self._header:
            if name in seen:
                errors.append(RowError(1, name, name, "this column appears twice in the header"))
            seen.add(name)
        if "" in seen:
            errors.append(RowError(1, "", "", "a column in the header has no name"))
        declared = {c.name: c for c in self.definition.columns}
        for column in self.definition.columns:
            if column.name not in seen:
                if column.required:
                    errors.append(
                        RowError(1, column.name, "", f"required column {column.name} is missing from the header")
                    )
                else:
                    self.report.warnings.append(
                        f"Optional column {column.name} is not in the file; its values are treated as missing."
                    )
        extra = [n for n in self._header if n and n not in declared]
        if extra:
            self.report.warnings.append(
                f"Column(s) not in the {self.definition.code} definition were ignored: {', '.join(extra)}."
            )
        self._present = [c for c in self.definition.columns if c.name in seen]
        if errors:
            self._add_errors(errors, len(errors))
            return False
        return True

    # -- bookkeeping ----------------------------------------------------
    def _account(self, data: bytes) -> None:
        self._sha.update(data)
        self.bytes_read += len(data)

    def _encoding_error(self, line: int, byte: bytes) -> None:
        self._encoding_failed = True
        self._add_errors(
            [
                RowError(
                    line,
                    "",
                    f"0x{byte.hex().upper()}",
                    "this line is not valid UTF-8 (the file looks like another encoding, "
                    "e.g. Windows-1252); save it as UTF-8 (in Excel: CSV UTF-8) and upload it again",
                )
            ],
            1,
        )

    def _file_error(self, message: str) -> None:
        self._add_errors([RowError(1, "", "", message)], 1)

    def _invalid_row(self, row: pacsv.InvalidRow) -> Literal["skip"]:
        self._structural.append(row.text)
        return "skip"

    def _add_errors(self, errors: list[RowError], total: int) -> None:
        self.report.error_count += total
        columns = {name: i for i, name in enumerate(self.definition.column_names)}
        for error in errors:
            self._sequence += 1
            key = (error.line if error.line is not None else 0, columns.get(error.column, -1), self._sequence, error)
            if len(self._heap) < self.max_errors:
                heapq.heappush(self._heap, _neg(key))
            elif _neg(key) > self._heap[0]:
                heapq.heapreplace(self._heap, _neg(key))

    # -- validation -----------------------------------------------------
    def _validate(self, table: pa.Table, lines: np.ndarray) -> pa.Table | None:
        raw = {name: table.column(name).combine_chunks() for name in self._header if name}
        blank_row = np.ones(table.num_rows, dtype=bool)
        for values in raw.values():
            blank_row &= _blank(values)
        if blank_row.any():  # empty lines between rows are skipped, like a spreadsheet does
            keep = pa.array(~blank_row)
            raw = {k: v.filter(keep) for k, v in raw.items()}
            lines = lines[~blank_row]
        n = len(lines)
        if n == 0:
            return None
        self.report.rows += n
        typed: dict[str, pa.Array] = {}
        problems: list[tuple[str, np.ndarray, _Message]] = []
        for column in self.definition.columns:
            if column.name not in raw:
                typed[column.name] = pa.nulls(n, _ARROW_TYPES[column.type])
                continue
            values, column_problems = _convert(column, raw[column.name], self)
            typed[column.name] = values
            problems.extend((column.name, mask, message) for mask, message in column_problems)
            if column.type == "provider":
                typed["provider_code_submitted"] = pc.utf8_upper(pc.utf8_trim_whitespace(raw[column.name]))
        for rule in self.definition.rules:
            mask, message = _check_rule(rule, typed, raw)
            problems.append((rule.column, mask, message))
        for column in self.definition.columns:
            if column.not_after_extract_date:
                late = np.asarray(pc.fill_null(pc.greater(typed[column.name], pa.scalar(self.extract_date)), False))
                problems.append(
                    (column.name, late, f"{column.name} is after the extract date {self.extract_date.isoformat()}")
                )
        self._record(problems, raw, lines)
        self._count_predecessors(raw.get(self.definition.provider), typed[self.definition.diagnosis_date])
        for column in self.definition.columns:
            if column.unique:
                self._unique_values.append(typed[column.name])
                self._unique_lines.append(lines)
        self._measure(typed)
        columns = {"line": pa.array(lines.astype(np.int32)), **typed}
        return pa.table(columns)

    def _record(
        self, problems: list[tuple[str, np.ndarray, _Message]], raw: dict[str, pa.Array], lines: np.ndarray
    ) -> None:
        found: list[RowError] = []
        total = 0
        for name, mask, message in problems:
            count = int(mask.sum())
            if not count:
                continue
            total += count
            positions = np.flatnonzero(mask)[: self.max_errors]
            values = (
                [_as_shown(v) for v in raw[name].take(pa.array(positions)).to_pylist()]
                if name in raw
                else [""] * len(positions)
            )
            for position, value in zip(positions, values, strict=True):
                text = message(value) if callable(message) else message
                found.append(RowError(int(lines[position]), name, value, text))
        if total:
            self._add_errors(found, total)

    def _count_predecessors(self, submitted: pa.Array | None, diagnosed: pa.Array) -> None:
        """Rows under a merged trust's old code: counted for the warnings, late ones flagged."""
        if submitted is None or not self.providers.successors:
            return
        upper = pc.utf8_upper(submitted)
        for code, (_, since) in self.providers.successors.items():
            hit = _mask(pc.equal(upper, code))
            if not hit.any():
                continue
            self._predecessor_rows[code] = self._predecessor_rows.get(code, 0) + int(hit.sum())
            late = hit & _mask(pc.greater_equal(diagnosed, pa.scalar(since)))
            if late.any():
                self._late_predecessor_rows[code] = self._late_predecessor_rows.get(code, 0) + int(late.sum())

    def _measure(self, typed: dict[str, pa.Array]) -> None:
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
        for column in self.definition.columns:
            filled = np.asarray(typed[column.name].is_valid(), dtype=bool)
            self._filled[column.name] += int(filled.sum())
            per = (
                np.bincount(index, weights=filled[valid_provider], minlength=width).astype(np.int64)
                if index is not None
                else np.zeros(width, dtype=np.int64)
            )
            self._provider_filled[column.name] = (
                _grow(self._provider_filled.get(column.name, np.zeros(0, np.int64)), width) + per
            )
        dates = typed[self.definition.diagnosis_date]
        low, high = pc.min_max(dates).values()
        if low.is_valid:
            start, end = low.as_py(), high.as_py()
            self.report.period_start = min(filter(None, [self.report.period_start, start]))
            self.report.period_end = max(filter(None, [self.report.period_end, end]))

    # -- end of file ---------------------------------------------------
    def finish(self) -> ParseReport:
        """Checks that need the whole file, then the report."""
        if self._finished:
            return self.report
        self._finished = True
        if self._structural:
            self._report_structure()
        elif self.report.rows == 0 and self.report.error_count == 0:
            self._file_error("the file has a header but no rows of data")
        self._check_unique()
        self._finish_warnings()
        self.report.errors = [item[3] for item in sorted((_neg(k) for k in self._heap), key=lambda k: k[:3])]
        self.report.sha256 = self._sha.hexdigest()
        self.report.size_bytes = self.bytes_read
        self.report.quality = self._quality()
        return self.report

    def _report_structure(self) -> None:
        """Rows with the wrong number of fields: find their lines with a slow exact scan."""
        self._heap.clear()
        self.report.error_count = 0
        expected = len(self._header)
        located: list[RowError] = []
        count = len(self._structural)
        try:
            self._stream.seek(0)
            text = io.TextIOWrapper(self._stream, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            next(reader, None)
            for row in reader:
                if row and len(row) != expected and any(v.strip() for v in row):
                    located.append(  # the line number finds the row; its values are not repeated here
                        RowError(
                            reader.line_num, "", "", f"this line has {len(row)} fields but the header has {expected}"
                        )
                    )
            text.detach()
        except (OSError, ValueError, UnicodeDecodeError):
            located = [
                RowError(None, "", "", f"a line has {_field_count(t)} fields but the header has {expected}")
                for t in self._structural
            ]
        self._add_errors(
            located or [RowError(None, "", "", "some lines have the wrong number of fields")], max(count, len(located))
        )
        self.report.warnings.append(
            "Rows with the wrong number of fields stop the other checks; fix them and upload again."
        )

    def _check_unique(self) -> None:
        if not self._unique_values or self._structural:
            return
        column = next(c for c in self.definition.columns if c.unique)
        values = pa.chunked_array(self._unique_values, type=pa.string()).combine_chunks()
        lines = np.concatenate(self._unique_lines)
        encoded = pc.dictionary_encode(values)
        codes = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
        valid = codes >= 0
        counts = np.bincount(codes[valid], minlength=len(encoded.dictionary))
        repeated = valid.copy()
        repeated[valid] = counts[codes[valid]] > 1
        if not repeated.any():
            return
        _, first_position = np.unique(codes[valid], return_index=True)
        first_line = np.full(len(encoded.dictionary), 0, dtype=np.int64)
        first_line[np.unique(codes[valid])] = lines[valid][first_position]
        later = repeated & (lines != np.where(valid, first_line[np.maximum(codes, 0)], -1))
        positions = np.flatnonzero(later)
        found = [
            RowError(
                int(lines[p]),
                column.name,
                values[int(p)].as_py(),
                f"{column.name} is repeated: it first appears on line {int(first_line[codes[p]])}",
            )
            for p in positions[: self.max_errors]
        ]
        self._add_errors(found, len(positions))

    def _finish_warnings(self) -> None:
        for code, count in sorted(self._predecessor_rows.items()):
            successor, since = self.providers.successors[code]
            self.report.warnings.append(
                f"{count} row(s) with predecessor code {code} were counted under its successor "
                f"{self.providers.resolve(code)} (merged from {since.isoformat()})."
            )
        for code, count in sorted(self._late_predecessor_rows.items()):
            _, since = self.providers.successors[code]
            self.report.warnings.append(
                f"{count} row(s) use code {code} for a diagnosis on or after {since.isoformat()}, when it no "
                f"longer existed; check the provider coding."
            )

    def _quality(self) -> dict[str, Any]:
        rows = self.report.rows
        columns = []
        for column in self.definition.columns:
            filled = self._filled[column.name]
            columns.append(
                {
                    "column": column.name,
                    "required": column.required,
                    "present_in_file": column in self._present,
                    "filled": filled,
                    "missing": rows - filled,
                    "percent_complete": round(100.0 * filled / rows, 1) if rows else None,
                }
            )
        providers = []
        for code, i in sorted(self._provider_index.items(), key=lambda item: str(item[0])):
            if code is None or i >= len(self._provider_rows):
                continue
            count = int(self._provider_rows[i])
            completeness = {
                c.name: round(100.0 * int(self._provider_filled[c.name][i]) / count, 1) if count else None
                for c in self.definition.columns
                if not c.required
            }
            providers.append({"provider_code": code, "rows": count, "percent_complete": completeness})
        optional = [c.name for c in self.definition.columns if not c.required]
        return {"rows": rows, "columns": columns, "providers": providers, "optional_columns": optional}


# -- column conversion ---------------------------------------------------------
_READ_TYPES: dict[str, pa.DataType] = {"integer": pa.int32(), "date": pa.date32(), "boolean": pa.bool_()}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "code": pa.string(),
    "provider": pa.string(),
    "integer": pa.int32(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
}


def _neg(key: _ErrorKey) -> _ErrorKey:
    """heapq is a min-heap: invert the sort key so the heap keeps the *first* errors."""
    line, col, seq, error = key
    return (-line, -col, -seq, error)


def _grow(array: np.ndarray, width: int) -> np.ndarray:
    if len(array) >= width:
        return array
    return np.concatenate([array, np.zeros(width - len(array), dtype=array.dtype)])


def _mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False), dtype=bool)


def _convert(
    column: Column, values: pa.Array, parser: ExtractParser
) -> tuple[pa.Array, list[tuple[np.ndarray, _Message]]]:
    """One column to its type; returns (typed array, [(mask, message)])."""
    if pa.types.is_string(values.type) and column.type in ("text", "integer", "date", "boolean"):
        values = pc.utf8_trim_whitespace(values)  # codes and providers trim lazily, only if a value fails
    converter = _CONVERTERS[column.type]
    typed, invalid, message, blank = converter(column, values, _blank(values), parser)
    problems: list[tuple[np.ndarray, _Message]] = []
    if column.required:
        problems.append((blank, "a value is required here"))
    problems.append((invalid, message))
    return typed, problems


def _blank(values: pa.Array) -> np.ndarray:
    """Missing: empty in the file (null when Arrow read it typed, "" when read as text)."""
    if pa.types.is_string(values.type):
        return ~_mask(pc.not_equal(values, ""))
    return ~np.asarray(values.is_valid(), bool)


def _csv_problem(exc: Exception) -> str:
    """Arrow's reason a file cannot be read, without the row it may quote after a second colon."""
    return ": ".join(str(exc).split(": ")[:2])


def _field_count(text: str) -> int:
    """Fields of a line as Arrow handed it over (a rough count: the exact scan above failed)."""
    return len(next(csv.reader([text]), []))


def _as_shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _case_variants(words: tuple[str, ...]) -> list[str]:
    """Every upper/lower-case spelling: Arrow's boolean reader compares exactly."""
    import itertools

    out = []
    for word in words:
        out += ["".join(chars) for chars in itertools.product(*[(c.lower(), c.upper()) for c in word])]
    return sorted(set(out))


def _as_text(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    return _blank_to_null(values, blank), np.zeros(len(values), bool), "", blank


def _blank_to_null(values: pa.Array, blank: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(blank), pa.nulls(len(values), values.type), values) if blank.any() else values


def _as_integer(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    try:  # fast path: every value is a plain whole number (the usual case), or Arrow read them typed
        numbers = pc.cast(_blank_to_null(values, blank) if pa.types.is_string(values.type) else values, pa.int64())
        whole = ~blank
    except pa.ArrowInvalid:  # find the bad values; "+5" is also accepted here
        whole = _mask(pc.match_substring_regex(values, r"^[+-]?[0-9]{1,9}$"))
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


def _as_date(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    try:  # fast path: every value is a valid ISO date (Arrow's cast checks days in the month)
        typed = pc.cast(_blank_to_null(values, blank), pa.date32()) if pa.types.is_string(values.type) else values
        ok = ~blank
    except pa.ArrowInvalid:
        typed, ok = _parse_dates(values)
    n = len(values)
    early = ok & _mask(pc.less(typed, pa.scalar(EARLIEST_DATE)))
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
    n = len(values)
    iso = _mask(pc.match_substring_regex(values, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    dmy = _mask(pc.match_substring_regex(values, r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"))
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


def _as_boolean(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    if pa.types.is_boolean(values.type):
        return values, np.zeros(len(values), bool), "", blank
    lower = pc.utf8_lower(values)
    truthy = _mask(pc.is_in(lower, value_set=pa.array(TRUE_WORDS)))
    falsy = _mask(pc.is_in(lower, value_set=pa.array(FALSE_WORDS)))
    invalid = ~truthy & ~falsy & ~blank
    typed = pc.if_else(pa.array(truthy | falsy), pa.array(truthy), pa.nulls(len(values), pa.bool_()))
    return typed, invalid, lambda v: f"{quoted(v)} is not true or false (use true/false, yes/no, y/n or 1/0)", blank


def _lookup(
    values: pa.Array, blank: np.ndarray, keys: list[str], fold: Callable[[pa.Array], pa.Array]
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Index of each value in ``keys`` (after case folding); trims spaces only if some value fails."""
    index = pc.index_in(fold(values), value_set=pa.array(keys, pa.string()))
    failed = ~np.asarray(index.is_valid(), bool) & ~blank
    if failed.any():
        values = pc.utf8_trim_whitespace(values)
        blank = _blank(values)
        index = pc.index_in(fold(values), value_set=pa.array(keys, pa.string()))
        failed = ~np.asarray(index.is_valid(), bool) & ~blank
    return index, failed, blank


def _as_code(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    codes = list(column.codes)
    index, invalid, blank = _lookup(values, blank, [c.lower() for c in codes], pc.utf8_lower)
    typed = pc.take(pa.array(codes), index)
    allowed = ", ".join(codes)
    return typed, invalid, lambda v: f"{quoted(v)} is not an allowed {column.name} (allowed: {allowed})", blank


def _as_provider(column: Column, values: pa.Array, blank: np.ndarray, parser: ExtractParser) -> _Converted:
    lookup = parser.providers
    known = sorted(lookup.current | set(lookup.successors))
    index, invalid, blank = _lookup(values, blank, known, pc.utf8_upper)
    typed = pc.take(pa.array([lookup.resolve(code) for code in known], pa.string()), index)
    return (
        typed,
        invalid,
        lambda v: f"{quoted(v)} is not a known NHS trust code (ODS); check the code or load the current organisations",
        blank,
    )


_CONVERTERS: dict[str, Callable[[Column, pa.Array, np.ndarray, ExtractParser], _Converted]] = {
    "text": _as_text,
    "integer": _as_integer,
    "date": _as_date,
    "boolean": _as_boolean,
    "code": _as_code,
    "provider": _as_provider,
}


def _condition(rule: Rule, typed: dict[str, pa.Array]) -> np.ndarray:
    mask: np.ndarray | None = None
    for name, wanted in rule.when:
        values = typed[name]
        hit = _mask(pc.is_in(values, value_set=pa.array(list(wanted), type=values.type)))
        mask = hit if mask is None else mask & hit
    assert mask is not None, "parse_definition gives required_when and blank_unless rules a non-empty when"
    return mask


def _check_rule(rule: Rule, typed: dict[str, pa.Array], raw: dict[str, pa.Array]) -> tuple[np.ndarray, _Message]:
    target = typed[rule.column]
    present = np.asarray(target.is_valid(), bool)
    if rule.column in raw:  # an unparseable value is reported once, by its column check
        present |= ~_blank(raw[rule.column])
    if rule.type == "required_when":
        return _condition(rule, typed) & ~present, f"{rule.column} is required when {rule.describe_when()}"
    if rule.type == "blank_unless":
        return ~_condition(rule, typed) & np.asarray(target.is_valid(), bool), (
            f"{rule.column} must be blank unless {rule.describe_when()}"
        )
    assert rule.reference is not None, "parse_definition gives not_before rules a reference"
    before = _mask(pc.less(target, typed[rule.reference]))
    return before, lambda value: f"{rule.column} {bracketed(value)} is before {rule.reference}"
