"""The risk model's plain words: its error, a level's name and a count of patients."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RiskModelError", "level_name", "who"]


class RiskModelError(ValueError):
    """The model could not be fitted; the message says why in plain words (no library text)."""


def level_name(level: Any) -> str:
    """A level as the card and the messages name it."""
    # A code column read with missing values becomes float (2.0); name it "2".
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def who(n: int) -> str:
    """A count of patients in words."""
    return "1 patient" if n == 1 else f"{n:,} patients"
