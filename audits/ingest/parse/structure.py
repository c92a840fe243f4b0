"""Rows with the wrong number of fields (Arrow skips them): their lines, found by a second, exact scan of the bytes."""

from __future__ import annotations

from typing import IO

import numpy as np

from audits.ingest.parse.report import RowError
from audits.ingest.parse.stream import BLOCK_SIZE


def field_count_errors(
    stream: IO[bytes], expected: int, limit: int, skipped: int, first_fields: int
) -> tuple[list[RowError], int]:
    """The first ``limit`` rows whose number of fields is not the header's ``expected``, and how many there are.

    Arrow ``skipped`` that many rows, the first with ``first_fields`` fields: what is said if the stream cannot be
    read again."""
    try:
        stream.seek(0)
        found, total = _wrong_field_counts(stream, expected, limit)
    except (OSError, ValueError):  # a stream that cannot be read again
        found, total = [], 0
    located = [  # the line number finds the row; its values are not repeated here
        RowError(line, "", "", f"this line has {fields} fields but the header has {expected}") for line, fields in found
    ]
    fallback = f"a line has {first_fields} fields but the header has {expected}"
    return located or [RowError(None, "", "", fallback)], max(skipped, total)


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
