"""The header line: read alone, checked as the first line of a CSV file, its names against the definition."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from audits.ingest.messages import shown
from audits.ingest.parse.report import Errors, RowError
from audits.ingest.parse.stream import NOT_UTF8, SAVE_AS_UTF8, not_csv
from audits.schema import AuditDefinition, Column

MAX_HEADER_BYTES = 1 << 20  # the header line is read alone, at most this much of it
MAX_LISTED_NAMES = 20  # extra columns named in the warning


@dataclass(frozen=True)
class Header:
    names: list[str]  # the column names, stripped and in lower case
    line_break: bytes  # b"\r" in a CR-only file, else b"\n" (the header line's ending)
    one_line: bool  # the file has no line break
    rest: bytes  # the bytes read after the header line


def read_header(stream: IO[bytes], errors: Errors, account: Callable[[bytes], None]) -> Header | None:
    """Read and check the header line (at most MAX_HEADER_BYTES of it); None if the file is refused (the error is
    reported). ``account`` hashes and counts the bytes of the header line (and of a byte order mark)."""
    head = b""
    while len(head) <= MAX_HEADER_BYTES:
        more = stream.read(64 * 1024)
        head += more
        if not more or b"\n" in more or b"\r" in head[-len(more) - 1 : -1]:  # a CR last: is CRLF?
            break
    problem = not_csv(head)
    if problem:
        errors.add_file_error(problem)
        return None
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
        account(codecs.BOM_UTF8)
    if not head.strip():
        errors.add_file_error("the file is empty: it needs a header line and at least one row")
        return None
    end = min((i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0), default=-1)
    if end > MAX_HEADER_BYTES or (end < 0 and len(head) > MAX_HEADER_BYTES):
        errors.add_file_error(
            f"the first line is longer than {MAX_HEADER_BYTES >> 20} MB: it must be the header, the column names "
            "separated by commas and ending with a line break (is this a CSV export?)"
        )
        return None
    crlf = head[end : end + 2] == b"\r\n"
    line_break = b"\r" if head[end : end + 1] == b"\r" and not crlf else b"\n"
    cut = len(head) if end < 0 else end + (2 if crlf else 1)
    header_bytes, rest = head[:cut], head[cut:]
    account(header_bytes)
    control = re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", header_bytes)
    if control:
        errors.add(
            [
                RowError(
                    1,
                    "",
                    f"0x{control.group().hex().upper()}",
                    "the header line has control characters: "
                    "this is not a CSV text file (UTF-16, or binary); " + SAVE_AS_UTF8,
                )
            ],
            1,
        )
        return None
    try:
        header_text = header_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.add([RowError(1, "", f"0x{header_bytes[exc.start : exc.start + 1].hex().upper()}", NOT_UTF8)], 1)
        return None
    if header_text.count('"') % 2:  # a quote opened and not closed on the line: a name cannot span lines
        errors.add_file_error('the header line has a quote (") that is not closed')
        return None
    try:
        names = next(csv.reader([header_text.strip("\r\n")]), [])
    except csv.Error:  # a name longer than the csv module's field limit (128 KB)
        errors.add_file_error(
            "a column name in the header is over 128 KB long: the first line must be the column names"
        )
        return None
    return Header([n.strip().lower() for n in names], line_break, end < 0, rest)


def check_names(
    names: list[str], definition: AuditDefinition, warnings: list[str]
) -> tuple[list[Column], list[RowError]]:
    """The definition's columns present in the header, and the header's errors (a name twice or empty, a required
    column missing). Missing optional columns and columns the definition does not know are ``warnings``."""
    errors = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(RowError(1, shown(name), shown(name), "this column appears twice in the header"))
        seen.add(name)
    if "" in seen:
        errors.append(RowError(1, "", "", "a column in the header has no name"))
    declared = {c.name: c for c in definition.columns}
    for column in definition.columns:
        if column.name not in seen:
            if column.required:
                errors.append(RowError(1, column.name, "", f"required column {column.name} is missing from the header"))
            else:
                warnings.append(f"Optional column {column.name} is not in the file; its values are treated as missing.")
    extra = [n for n in names if n and n not in declared]
    if extra:
        listed = ", ".join(shown(n) for n in extra[:MAX_LISTED_NAMES])
        more = f" and {len(extra) - MAX_LISTED_NAMES} more" if len(extra) > MAX_LISTED_NAMES else ""
        warnings.append(f"Column(s) not in the {definition.code} definition were ignored: {listed}{more}.")
    return [c for c in definition.columns if c.name in seen], errors
