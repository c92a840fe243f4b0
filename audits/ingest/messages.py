"""How an import's error messages show the value they are about, and the same messages without it.

A message quotes its value in one of two ways only (``quoted`` or ``bracketed``), so that
``without_value`` can word it for people who may not read the file's values (pure, no Arrow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IN_PLACE_OF_VALUE = "this value"


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
