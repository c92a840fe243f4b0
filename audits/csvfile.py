"""The one CSV writer for every download: the dashboards' tables, the funnel tool's table and the API's renderer.

Spreadsheets run a cell as a formula when it starts with ``=``, ``+``, ``-`` or ``@``, and some also after
leading spaces, a tab or a carriage return: an uploaded file named ``=HYPERLINK("http://x","y")`` would be a
live link in Excel. Such text is written with an apostrophe in front (OWASP's advice for CSV injection), which
a spreadsheet shows as text and a program reading the file sees as one more character.

Numbers stay numbers: only text is neutralised, so an int, float or Decimal is written as it is, and so is
text that is nothing but a plain number (``-0.5``, ``+3``, ``-1.2e-05``), which no spreadsheet can run; a
negative value in a numeric column stays usable. ``-1+1`` is not a plain number, so it gets the apostrophe.

Lives in ``audits``, the lowest app, so that ``api``, ``dashboards`` and ``indicators`` can all use it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """The value as a spreadsheet can open it safely: text that could run as a formula gets a leading ``'``."""
    if not isinstance(value, str) or PLAIN_NUMBER.fullmatch(value):
        return value
    # A formula after leading spaces (also after any other white space: new lines, no-break spaces).
    if value.lstrip(" ").startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV file (RFC 4180: CRLF line ends, quotes where needed) of the header and rows, every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(cell) for cell in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()
