"""Shared helpers for the statistics tests.

The peers' published test values live in ``tests/fixtures/reference-values``
(their README gives versions, commits and licences). A missing file must fail
the run loudly, never skip.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "reference-values"


def reference_path(relative: str) -> Path:
    """Absolute path of a reference file; raises if it is absent."""
    if not REFERENCE_DIR.is_dir():
        raise FileNotFoundError(f"reference-values folder not found at {REFERENCE_DIR}; it is part of the repository")
    path = REFERENCE_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(f"reference file missing: {path}")
    return path


def load_reference(relative: str) -> pd.DataFrame:
    """Read a reference CSV (empty cells -> NaN)."""
    return pd.read_csv(reference_path(relative))


def reference_rows(relative: str) -> list[tuple[str, dict]]:
    """(id, row-as-dict) pairs for pytest parametrisation, one per CSV row."""
    frame = load_reference(relative)
    return [(f"row{i + 1}", row) for i, row in enumerate(frame.to_dict(orient="records"))]
