"""How an import's error messages show the value they are about, and the same messages without it.

A message quotes its value in one of two ways only (``quoted`` or ``bracketed``), so that
``without_value`` can word it for people who may not read the file's values (pure, no Arrow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IN_PLACE_OF_VALUE = "this value"
MAX_SHOWN_CHARS = 200  # a longer value (or column name) is cut short in a report


def shown(value: str) -> str:
    """A value as a report quotes it: at most MAX_SHOWN_CHARS characters, then how many more there were."""
    if len(value) <= MAX_SHOWN_CHARS:
        return value
    return f"{value[:MAX_SHOWN_CHARS]}... ({len(value) - MAX_SHOWN_CHARS} more characters)"


def quoted(value: str) -> str:
    """A value at the start of a message: ``'5' is not an allowed stage``."""
    return f"'{value}'"


def bracketed(value: str) -> str:
    """A value after a column's name: ``surgery_date (2020-01-01) is before diagnosis_date``."""
    return f"({value})"


def without_value(error: Mapping[str, Any]) -> dict[str, Any]:
    """An error report's entry as line, column and a message that does not quote the value."""
    value = str(error.get("value") or "")
    message = str(error.get("message") or "")
    if value:
        message = message.replace(quoted(value), IN_PLACE_OF_VALUE).replace(f" {bracketed(value)}", "")
    return {"line": error.get("line"), "column": error.get("column", ""), "message": message}


def extract_too_large(size: int, limit: int) -> str | None:
    """Why a file of ``size`` bytes is refused, or None when it is within ``limit`` (MAX_EXTRACT_BYTES)."""
    if size <= limit:
        return None
    return (
        f"the file is {_in_megabytes(size)}, over the limit of {_in_megabytes(limit)} for an extract "
        "(MAX_EXTRACT_BYTES): split the extract, or ask the administrator to raise the limit"
    )


def _in_megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 else f"{size:,} bytes"
