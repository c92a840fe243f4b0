"""The extract parser: reads a file block by block through the checks, and makes the report at the end."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from typing import IO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from audits.ingest.columns.base import blank_mask
from audits.ingest.parse.convert import convert_batch, convert_options
from audits.ingest.parse.header import check_names, read_header
from audits.ingest.parse.providers import Predecessors, ProviderLookup
from audits.ingest.parse.quality import Completeness
from audits.ingest.parse.report import MAX_REPORTED_ERRORS, Errors, ParseReport, RowError, TypedReadFailed
from audits.ingest.parse.rules import check_rules
from audits.ingest.parse.stream import BLOCK_SIZE, CheckedStream
from audits.ingest.parse.structure import field_count_errors
from audits.ingest.parse.unique import UniqueValues
from audits.schema import AuditDefinition, Column


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
        self._errors = Errors(self.report, definition.column_names, max_errors)
        self._sha = hashlib.sha256()
        self._present: list[Column] = []
        self._header: list[str] = []
        self._one_line = False
        self._structural = 0  # rows with the wrong number of fields (Arrow skips them)
        self._structural_fields = 0  # the field count of the first of them
        self._stopped = False  # a bad byte ended the reading
        self._input: CheckedStream | None = None
        self._unique = UniqueValues()
        self._predecessors = Predecessors(providers)
        self._completeness = Completeness(definition)
        self.bytes_read = 0
        self._finished = False

    @property
    def ok(self) -> bool:
        return self.report.error_count == 0

    # -- reading ---------------------------------------------------------
    def batches(self, stream: IO[bytes]) -> Iterator[pa.Table]:
        """Yield one typed table per block of rows."""
        self._stream = stream
        header = read_header(stream, self._errors, self._account)
        if header is None:
            return
        self._header, self._one_line = header.names, header.one_line
        self._present, errors = check_names(header.names, self.definition, self.report.warnings)
        if errors:
            self._errors.add(errors, len(errors))
            return
        names = self._header
        next_line = 2
        self._input = CheckedStream(stream, header.rest, header.line_break, self._account, self._stop_at)
        try:
            reader = pacsv.open_csv(
                self._input,
                read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_SIZE, use_threads=True),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=self._invalid_row
                ),
                convert_options=convert_options(self.definition, names, self.typed_reading),
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

    def _account(self, data: bytes) -> None:
        self._sha.update(data)
        self.bytes_read += len(data)

    def _stop_at(self, line: int, field: int | None, byte: bytes, message: str) -> None:
        """A byte no CSV export has: reading stops there (what follows is not checked)."""
        self._stopped = True
        column = self._header[field] if field is not None and field < len(self._header) else ""
        self._errors.add([RowError(line, column, f"0x{byte.hex().upper()}", message)], 1)

    def _unreadable(self, exc: pa.ArrowInvalid, next_line: int) -> None:
        """Arrow could not read on from ``next_line``: a line longer than a block, or a file it cannot parse."""
        if self._stopped:  # the reading was cut short on purpose
            return
        if self.typed_reading:
            # The caller reads the stream again from its start; Arrow may still be reading ahead in the background
            # (a block it fetched before the error): closed, the checked stream gives it no more of those bytes.
            if self._input is not None:
                self._input.close()
            raise TypedReadFailed(str(exc)) from exc
        if "straddl" in str(exc):
            self._errors.add(
                [
                    RowError(
                        next_line, "", "", f"this line is longer than {BLOCK_SIZE >> 20} MB: is a quote not closed?"
                    )
                ],
                1,
            )
        else:
            self._errors.add([RowError(None, "", "", f"the file cannot be read as CSV: {_csv_problem(exc)}")], 1)

    def _invalid_row(self, row: pacsv.InvalidRow) -> Literal["skip"]:
        """A row with the wrong number of fields: counted (its line is found at the end); spaces only: skipped."""
        if not self._stopped and row.text.strip():
            self._structural += 1
            self._structural_fields = self._structural_fields or row.actual_columns
        return "skip"

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
        typed, problems = convert_batch(self.definition, raw, n, self.providers)
        problems += check_rules(self.definition, typed, raw, self.extract_date)
        self._errors.record(problems, raw, lines)
        self._predecessors.count(raw.get(self.definition.provider), typed[self.definition.diagnosis_date])
        for column in self.definition.columns:
            if column.unique:
                self._unique.add(typed[column.name], lines)
        self._completeness.measure(typed)
        self._extend_period(typed[self.definition.diagnosis_date])
        columns = {"line": pa.array(lines.astype(np.int32)), **typed}
        return pa.table(columns)

    def _extend_period(self, dates: pa.Array) -> None:
        """The report's period: the first and last diagnosis dates."""
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
            self._errors.add_file_error(
                "the file has only one line (no line break): it needs a header line and at least one row"
                if self._one_line
                else "the file has a header but no rows of data"
            )
        self._check_unique()
        self.report.warnings += self._predecessors.warnings()
        self.report.errors = self._errors.first()
        self.report.sha256 = self._sha.hexdigest()
        self.report.size_bytes = self.bytes_read
        self.report.quality = self._completeness.report(self.report.rows, self._present)
        return self.report

    def _report_structure(self) -> None:
        """Rows with the wrong number of fields: they replace every other error."""
        self._errors.clear()
        errors, total = field_count_errors(
            self._stream, len(self._header), self.max_errors, self._structural, self._structural_fields
        )
        self._errors.add(errors, total)
        self.report.warnings.append(
            "Rows with the wrong number of fields stop the other checks; fix them and upload again."
        )

    def _check_unique(self) -> None:
        if self._unique.empty or self._structural or self._stopped:
            return
        column = next(c for c in self.definition.columns if c.unique)
        self._errors.add(*self._unique.repeats(column.name, self.max_errors))


def _csv_problem(exc: Exception) -> str:
    """Arrow's reason a file cannot be read, without the row it may quote after a second colon."""
    return ": ".join(str(exc).split(": ")[:2])
