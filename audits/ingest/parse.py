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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from audits.ingest.columns import (
    COLUMN_TYPES,
    FALSE_WORDS,
    TRUE_WORDS,
    Message,
    blank_mask,
    case_variants,
    true_mask,
)
from audits.ingest.messages import bracketed, shown
from audits.schema import AuditDefinition, Column, Rule

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# Heap entries: (line, column position, sequence, error), negated by _neg so the heap keeps the first.
_ErrorKey: TypeAlias = "tuple[int, int, int, RowError]"

MAX_REPORTED_ERRORS = 100
BLOCK_SIZE = 8 << 20  # also the longest line Arrow reads (a row must fit in one block)
MAX_HEADER_BYTES = 1 << 20  # the header line is read alone, at most this much of it
MAX_LISTED_NAMES = 20  # extra columns named in the warning
# Files that are not CSV, by their first bytes: what to say.
_NOT_CSV = (
    (b"\x1f\x8b", "this is a gzip-compressed file, not a CSV file: unpack it and upload the CSV file inside"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "this is an Excel 97-2003 workbook (.xls), not a CSV file: in Excel, save it as CSV UTF-8",
    ),
    (b"%PDF", "this is a PDF document, not a CSV file: export the data as CSV UTF-8"),
    (b"\xfd7zXZ\x00", "this is an xz-compressed file, not a CSV file: unpack it and upload the CSV file inside"),
    (b"7z\xbc\xaf\x27\x1c", "this is a 7-Zip archive, not a CSV file: unpack it and upload the CSV file inside"),
    (b"PAR1", "this is a Parquet file, not a CSV file: export the data as CSV UTF-8"),
    (b"SQLite format 3\x00", "this is an SQLite database, not a CSV file: export the data as CSV UTF-8"),
)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_EXCEL = "this is an Excel workbook (.xlsx), not a CSV file: in Excel, save it as CSV UTF-8 (Comma delimited)"
_ZIPPED = "this is a zip file, not a CSV file: unzip it and upload the CSV file inside"
_SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: CSV UTF-8) and upload it again"


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
    """Hashes the bytes and checks they are UTF-8 without NUL bytes while pyarrow reads them.

    The checks run at C speed on each block (a decoder, ``bytes.find``); the first bad byte stops
    the reading there (pyarrow sees the end of the file) and is reported with its line.
    """

    def __init__(self, raw: IO[bytes], prefix: bytes, parser: ExtractParser, line_break: bytes):
        self._raw = raw
        self._prefix = prefix
        self._parser = parser
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._break = line_break  # b"\r" in a CR-only file, else b"\n" (the header line's ending)
        self._newlines = 1  # the header line was read before this stream starts
        self._at_line_start = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view:
            data = self.read(len(view))
            view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._parser._stopped:
            return b""
        if self._prefix:
            data, self._prefix = self._prefix, b""
        else:
            data = self._raw.read(size if size and size > 0 else BLOCK_SIZE)
        self._parser._account(data)
        nul = data.find(b"\x00")
        try:
            # ASCII is UTF-8: with no character left open by the previous block, a block of ASCII needs no decoding
            # (bytes.isascii runs about eight times faster than the decoder).
            if self._decoder.getstate()[0] or not data.isascii():
                self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            if nul < 0 or exc.start < nul:
                line, _ = self._where(data, exc.start)  # the whole line is suspect: no column named
                self._parser._stop_at(line, None, data[exc.start : exc.start + 1], _NOT_UTF8)
                return _whole_lines(data, exc.start)
        if nul >= 0:
            self._parser._stop_at(*self._where(data, nul), b"\x00", _NUL)
            return _whole_lines(data, nul)
        pending = self._decoder.getstate()[0]
        if pending and not self._prefix:  # the block ends inside a character: does the file end there too?
            self._prefix = self._raw.read(size if size and size > 0 else BLOCK_SIZE)
            if not self._prefix:
                position = max(len(data) - len(pending), 0)
                self._parser._stop_at(self._where(data, position)[0], None, pending[:1], _NOT_UTF8)
                return _whole_lines(data, position)
        self._newlines += data.count(self._break)
        self._at_line_start = data.endswith((b"\n", b"\r"))
        return data

    def _where(self, data: bytes, position: int) -> tuple[int, int | None]:
        """The line of a byte, and its field's position on the line (None if the line began in an earlier block)."""
        line = self._newlines + data.count(self._break, 0, position) + 1
        start = max(data.rfind(b"\n", 0, position), data.rfind(b"\r", 0, position))
        if start < 0 and not self._at_line_start:
            return line, None
        # Commas outside quotes before the byte: a quote toggles quoting, so count in every other piece.
        before = data[start + 1 : position].split(b'"')
        return line, sum(piece.count(b",") for piece in before[::2])


def _whole_lines(data: bytes, position: int) -> bytes:
    """The lines of a block that end before ``position`` (Arrow reads them, then the end of the file)."""
    return data[: max(data.rfind(b"\n", 0, position), data.rfind(b"\r", 0, position)) + 1]


_NOT_UTF8 = "this line is not valid UTF-8 (the file looks like another encoding, e.g. Windows-1252); " + _SAVE_AS_UTF8
_NUL = "this line has a NUL byte (0x00), which a CSV export never has: export the data again as CSV UTF-8"


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
        self._header: list[str] = []
        self._line_break = b"\n"
        self._one_line = False
        self._structural = 0  # rows with the wrong number of fields (Arrow skips them)
        self._structural_fields = 0  # the field count of the first of them
        self._stopped = False  # a bad byte ended the reading
        self._provider_index: dict[str, int] = {}
        self._provider_rows = np.zeros(0, dtype=np.int64)
        self._provider_filled: dict[str, np.ndarray] = {}
        self._filled = {c.name: 0 for c in definition.columns}  # recorded: not blank, not an unknown code
        self._applies = {c.name: 0 for c in definition.columns}  # rows the column applies to
        self._unknown = {c.name: 0 for c in definition.columns}  # an unknown code where it applies
        self._provider_applies: dict[str, np.ndarray] = {}
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
        next_line = 2
        try:
            reader = pacsv.open_csv(
                _CheckedStream(stream, prefix, self, self._line_break),
                read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_SIZE, use_threads=True),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._invalid_row
                ),
                convert_options=self._convert_options(names),
            )
        except pa.ArrowInvalid as exc:  # no bytes after the header, or the first block was refused
            if "Empty CSV" not in str(exc):
                self._unreadable(exc, next_line)
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                self._unreadable(exc, next_line)
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
        declared = {c.name: c for c in self.definition.columns}
        return pacsv.ConvertOptions(
            column_types={n: _read_type(declared.get(n)) for n in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            true_values=case_variants(TRUE_WORDS),
            false_values=case_variants(FALSE_WORDS),
        )

    def _read_header(self, stream: IO[bytes]) -> bytes | None:
        """Read and check the header line (at most MAX_HEADER_BYTES of it); returns the bytes read after it."""
        head = b""
        while len(head) <= MAX_HEADER_BYTES:
            more = stream.read(64 * 1024)
            head += more
            if not more or b"\n" in more or b"\r" in head[-len(more) - 1 : -1]:  # a CR last: is CRLF?
                break
        problem = _not_csv(head)
        if problem:
            self._file_error(problem)
            return None
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
            self._account(codecs.BOM_UTF8)
        if not head.strip():
            self._file_error("the file is empty: it needs a header line and at least one row")
            return None
        end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=-1)
        if end > MAX_HEADER_BYTES or (end < 0 and len(head) > MAX_HEADER_BYTES):
            self._file_error(
                f"the first line is longer than {MAX_HEADER_BYTES >> 20} MB: it must be the header, the column names "
                "separated by commas and ending with a line break (is this a CSV export?)"
            )
            return None
        crlf = head[end : end + 2] == b"\r\n"
        self._line_break = b"\r" if head[end : end + 1] == b"\r" and not crlf else b"\n"
        self._one_line = end < 0
        cut = len(head) if end < 0 else end + (2 if crlf else 1)
        header_bytes, rest = head[:cut], head[cut:]
        self._account(header_bytes)
        control = re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", header_bytes)
        if control:
            self._add_errors(
                [
                    RowError(
                        1,
                        "",
                        f"0x{control.group().hex().upper()}",
                        "the header line has control characters: "
                        "this is not a CSV text file (UTF-16, or binary); " + _SAVE_AS_UTF8,
                    )
                ],
                1,
            )
            return None
        try:
            header_text = header_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._add_errors(
                [RowError(1, "", f"0x{header_bytes[exc.start : exc.start + 1].hex().upper()}", _NOT_UTF8)], 1
            )
            return None
        if header_text.count('"') % 2:  # a quote opened and not closed on the line: a name cannot span lines
            self._file_error('the header line has a quote (") that is not closed')
            return None
        try:
            names = next(csv.reader([header_text.strip("\r\n")]), [])
        except csv.Error:  # a name longer than the csv module's field limit (128 KB)
            self._file_error("a column name in the header is over 128 KB long: the first line must be the column names")
            return None
        self._header = [n.strip().lower() for n in names]
        if not self._check_header():
            return None
        return rest

    def _check_header(self) -> bool:
        errors = []
        seen: set[str] = set()
        for name in self._header:
            if name in seen:
                errors.append(RowError(1, shown(name), shown(name), "this column appears twice in the header"))
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
            listed = ", ".join(shown(n) for n in extra[:MAX_LISTED_NAMES])
            more = f" and {len(extra) - MAX_LISTED_NAMES} more" if len(extra) > MAX_LISTED_NAMES else ""
            self.report.warnings.append(
                f"Column(s) not in the {self.definition.code} definition were ignored: {listed}{more}."
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

    def _stop_at(self, line: int, field: int | None, byte: bytes, message: str) -> None:
        """A byte no CSV export has: reading stops there (what follows is not checked)."""
        self._stopped = True
        column = self._header[field] if field is not None and field < len(self._header) else ""
        self._add_errors([RowError(line, column, f"0x{byte.hex().upper()}", message)], 1)

    def _unreadable(self, exc: pa.ArrowInvalid, next_line: int) -> None:
        """Arrow could not read on from ``next_line``: a line longer than a block, or a file it cannot parse."""
        if self._stopped:  # the reading was cut short on purpose
            return
        if self.typed_reading:
            raise TypedReadFailed(str(exc)) from exc
        if "straddl" in str(exc):
            self._add_errors(
                [
                    RowError(
                        next_line, "", "", f"this line is longer than {BLOCK_SIZE >> 20} MB: is a quote not closed?"
                    )
                ],
                1,
            )
        else:
            self._add_errors([RowError(None, "", "", f"the file cannot be read as CSV: {_csv_problem(exc)}")], 1)

    def _file_error(self, message: str) -> None:
        self._add_errors([RowError(1, "", "", message)], 1)

    def _invalid_row(self, row: pacsv.InvalidRow) -> Literal["skip"]:
        """A row with the wrong number of fields: counted (its line is found at the end); spaces only: skipped."""
        if not self._stopped and row.text.strip():
            self._structural += 1
            self._structural_fields = self._structural_fields or row.actual_columns
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
            blank_row &= blank_mask(values)
        if blank_row.any():  # empty lines between rows are skipped, like a spreadsheet does
            keep = pa.array(~blank_row)
            raw = {k: v.filter(keep) for k, v in raw.items()}
            lines = lines[~blank_row]
        n = len(lines)
        if n == 0:
            return None
        self.report.rows += n
        typed: dict[str, pa.Array] = {}
        problems: list[tuple[str, np.ndarray, Message]] = []
        for column in self.definition.columns:
            if column.name not in raw:
                typed[column.name] = pa.nulls(n, COLUMN_TYPES[column.type].arrow(column))
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
        self, problems: list[tuple[str, np.ndarray, Message]], raw: dict[str, pa.Array], lines: np.ndarray
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
            hit = true_mask(pc.equal(upper, code))
            if not hit.any():
                continue
            self._predecessor_rows[code] = self._predecessor_rows.get(code, 0) + int(hit.sum())
            late = hit & true_mask(pc.greater_equal(diagnosed, pa.scalar(since)))
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

        def per_provider(mask: np.ndarray) -> np.ndarray:
            if index is None:
                return np.zeros(width, dtype=np.int64)
            return np.bincount(index, weights=mask[valid_provider], minlength=width).astype(np.int64)

        n = len(provider)
        for column in self.definition.columns:
            # Recorded: a value that is not one of the column's unknown codes; counted among the rows
            # the column applies to (all rows unless the definition says applies_when).
            filled = np.asarray(typed[column.name].is_valid(), dtype=bool)
            applies = _when(column.applies_when, typed) if column.applies_when else None
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
        if self._structural and not self._stopped:
            self._report_structure()
        elif self.report.rows == 0 and self.report.error_count == 0:
            self._file_error(
                "the file has only one line (no line break): it needs a header line and at least one row"
                if self._one_line
                else "the file has a header but no rows of data"
            )
        self._check_unique()
        self._finish_warnings()
        self.report.errors = [item[3] for item in sorted((_neg(k) for k in self._heap), key=lambda k: k[:3])]
        self.report.sha256 = self._sha.hexdigest()
        self.report.size_bytes = self.bytes_read
        self.report.quality = self._quality()
        return self.report

    def _report_structure(self) -> None:
        """Rows with the wrong number of fields: find their lines with a second, exact scan of the bytes."""
        self._heap.clear()
        self.report.error_count = 0
        expected = len(self._header)
        try:
            self._stream.seek(0)
            found, total = _wrong_field_counts(self._stream, expected, self.max_errors)
        except (OSError, ValueError):  # a stream that cannot be read again
            found, total = [], 0
        located = [  # the line number finds the row; its values are not repeated here
            RowError(line, "", "", f"this line has {fields} fields but the header has {expected}")
            for line, fields in found
        ]
        fallback = f"a line has {self._structural_fields} fields but the header has {expected}"
        self._add_errors(located or [RowError(None, "", "", fallback)], max(self._structural, total))
        self.report.warnings.append(
            "Rows with the wrong number of fields stop the other checks; fix them and upload again."
        )

    def _check_unique(self) -> None:
        if not self._unique_values or self._structural or self._stopped:
            return
        column = next(c for c in self.definition.columns if c.unique)
        values = pa.chunked_array(self._unique_values, type=pa.string()).combine_chunks()
        lines = np.concatenate(self._unique_lines)
        encoded = pc.dictionary_encode(values)
        if len(encoded.dictionary) == len(values) - values.null_count:  # every value distinct: the usual case
            return
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
        """Completeness by column and by trust. A column is complete for a patient it applies to
        (``applies_when``) when it holds a value that is not an unknown code (``unknown_codes``):
        ``filled`` counts those, ``missing`` the rest (blanks and ``unknown``) among ``applies_to``."""
        rows = self.report.rows
        columns = []
        for column in self.definition.columns:
            filled, applies = self._filled[column.name], self._applies[column.name]
            columns.append(
                {
                    "column": column.name,
                    "required": column.required,
                    "present_in_file": column in self._present,
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


# -- column conversion ---------------------------------------------------------
def _read_type(column: Column | None) -> pa.DataType:
    """What Arrow's typed read makes of a column: its type's values if Arrow converts them itself, else text."""
    if column is None or not COLUMN_TYPES[column.type].typed_read:
        return pa.string()
    return COLUMN_TYPES[column.type].arrow(column)


def _neg(key: _ErrorKey) -> _ErrorKey:
    """heapq is a min-heap: invert the sort key so the heap keeps the *first* errors."""
    line, col, seq, error = key
    return (-line, -col, -seq, error)


def _grow(array: np.ndarray, width: int) -> np.ndarray:
    if len(array) >= width:
        return array
    return np.concatenate([array, np.zeros(width - len(array), dtype=array.dtype)])


def _convert(
    column: Column, values: pa.Array, parser: ExtractParser
) -> tuple[pa.Array, list[tuple[np.ndarray, Message]]]:
    """One column to its type; returns (typed array, [(mask, message)])."""
    kind = COLUMN_TYPES[column.type]
    if pa.types.is_string(values.type) and kind.trim:
        values = pc.utf8_trim_whitespace(values)
    typed, invalid, message, blank = kind.convert(column, values, blank_mask(values), parser.providers)
    problems: list[tuple[np.ndarray, Message]] = []
    if column.required:
        problems.append((blank, "a value is required here"))
    problems.append((invalid, message))
    return typed, problems


def _csv_problem(exc: Exception) -> str:
    """Arrow's reason a file cannot be read, without the row it may quote after a second colon."""
    return ": ".join(str(exc).split(": ")[:2])


def _not_csv(head: bytes) -> str | None:
    """What a file is, from its first bytes, when it is plainly not a UTF-8 CSV file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16; " + _SAVE_AS_UTF8
    if head.startswith(_ZIP):
        return _EXCEL if b"[Content_Types].xml" in head or b"xl/" in head else _ZIPPED
    return next((message for magic, message in _NOT_CSV if head.startswith(magic)), None)


def _wrong_field_counts(stream: IO[bytes], expected: int, limit: int) -> tuple[list[tuple[int, int]], int]:
    """(line, fields) of the first ``limit`` records after the header whose number of fields is not
    ``expected``, and how many there are. Reads the bytes in blocks, quote-aware, with numpy (C speed,
    memory bounded by a block); a record's line is the one it starts on; lines of spaces are skipped.
    A line ends at LF, CRLF or a lone CR, as Arrow reads it."""
    found: list[tuple[int, int]] = []
    total = 0
    line_base = 1  # line of the block's first byte
    quotes_before = 0
    record = 0  # index of the current record (0: the header)
    record_line, commas, content = 1, 0, False  # the current record, carried from block to block
    while block := stream.read(BLOCK_SIZE):
        if block.endswith(b"\r"):
            block += stream.read(1)  # is it CRLF?
        data = np.frombuffer(block, dtype=np.uint8)
        quotes = np.flatnonzero(data == 34)
        lf = np.flatnonzero(data == 10)
        cr = np.flatnonzero(data == 13)
        cr = cr[(cr + 1 >= len(data)) | (data[np.minimum(cr + 1, len(data) - 1)] != 10)]
        breaks = np.sort(np.concatenate((lf, cr)))
        outside = (quotes_before + np.searchsorted(quotes, breaks)) % 2 == 0
        ends = breaks[outside]
        all_commas = np.flatnonzero(data == 44)
        separators = all_commas[(quotes_before + np.searchsorted(quotes, all_commas)) % 2 == 0]
        per_record = np.diff(np.searchsorted(separators, ends), prepend=0)
        if len(ends):
            per_record[0] += commas
            starts = np.concatenate(([0], ends[:-1] + 1))
            lines = line_base + np.searchsorted(breaks, starts)
            lines[0] = record_line
            fields = per_record + 1
            bad = fields != expected
            bad[0] &= record > 0  # not the header
            for k in np.flatnonzero(bad & (fields == 1)):  # blank lines and lines of spaces are skipped
                bad[k] = (k == 0 and content) or bool(block[starts[k] : ends[k]].strip())
            hits = np.flatnonzero(bad)
            total += len(hits)
            found += [(int(lines[k]), int(fields[k])) for k in hits[: limit - len(found)]]
            record += len(ends)
            record_line = line_base + int(np.searchsorted(breaks, ends[-1] + 1))
            commas = len(separators) - int(np.searchsorted(separators, ends[-1]))
            content = bool(block[ends[-1] + 1 :].strip())
        else:
            commas += len(separators)
            content = content or bool(block.strip())
        line_base += len(breaks)
        quotes_before += len(quotes)
    if (content or commas) and record > 0 and commas + 1 != expected:  # a last line without a line break
        total += 1
        if len(found) < limit:
            found.append((record_line, commas + 1))
    return found, total


def _as_shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return shown(str(value))


def _condition(rule: Rule, typed: dict[str, pa.Array]) -> np.ndarray:
    assert rule.when, "parse_definition gives required_when and blank_unless rules a non-empty when"
    return _when(rule.when, typed)


def _when(when: tuple[tuple[str, tuple[Any, ...]], ...], typed: dict[str, pa.Array]) -> np.ndarray:
    """Rows meeting a ``when`` (every column holds one of its values), vectorised."""
    mask: np.ndarray | None = None
    for name, wanted in when:
        values = typed[name]
        hit = true_mask(pc.is_in(values, value_set=pa.array(list(wanted), type=values.type)))
        mask = hit if mask is None else mask & hit
    assert mask is not None
    return mask


def _check_rule(rule: Rule, typed: dict[str, pa.Array], raw: dict[str, pa.Array]) -> tuple[np.ndarray, Message]:
    target = typed[rule.column]
    present = np.asarray(target.is_valid(), bool)
    if rule.column in raw:  # an unparseable value is reported once, by its column check
        present |= ~blank_mask(raw[rule.column])
    if rule.type == "required_when":
        return _condition(rule, typed) & ~present, f"{rule.column} is required when {rule.describe_when()}"
    if rule.type == "blank_unless":
        return ~_condition(rule, typed) & np.asarray(target.is_valid(), bool), (
            f"{rule.column} must be blank unless {rule.describe_when()}"
        )
    assert rule.reference is not None, "parse_definition gives not_before rules a reference"
    before = true_mask(pc.less(target, typed[rule.reference]))
    return before, lambda value: f"{rule.column} {bracketed(value)} is before {rule.reference}"
