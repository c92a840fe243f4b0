"""The kinds of indicator, one module each: what an indicator measures and how it is judged.

An indicator's entry declares ``kind:``; without one it is a ``ratio`` (observed over expected)
when it has a ``risk_model`` and a ``proportion`` otherwise, as before kinds were declared, and a
declared kind must agree with the ``risk_model`` (README, "Indicators"). Every module of this
package but ``base`` defines ``KIND``, an instance of :class:`indicators.kinds.base.Kind` named as
the module, and is found here: a new kind is one new module.

Only the standard library is imported at import time (the start-up check of definitions,
indicators/checks.py, reads :data:`KINDS`).
"""

from __future__ import annotations

import importlib
import pkgutil

from indicators.kinds.base import Cohort, Kind

__all__ = ["KINDS", "Cohort", "Kind", "default_kind"]


def _discovered() -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name):
        if module.name != "base":
            kind: Kind = importlib.import_module(f"{__name__}.{module.name}").KIND
            kinds[kind.name] = kind
    return kinds


KINDS: dict[str, Kind] = _discovered()


def default_kind(risk_model: object) -> str:
    """The kind of an entry that declares none: a ratio when it has a risk model, else a proportion."""
    return "ratio" if risk_model is not None else "proportion"
