"""Column types: each declared once, in one module, with everything the platform does with it.

A definition file's column names a type (``type: integer``); ``COLUMN_TYPES`` maps that name to a
``ColumnType`` (``audits.ingest.columns.base``), which says

- the definition keys it adds to the common ones (``keys``) and how they are checked (``options``);
- how a value is read: its converter (text, or what Arrow's typed read gave, to typed Arrow values, the bad
  ones and a message for them), whether Arrow's CSV reader converts it itself in the fast typed read
  (``typed_read``; ``audits.services.import_extract`` falls back to text on the first value it cannot convert),
  and whether spaces around a value are trimmed first;
- how it is stored: the Arrow type of its values (also the type a PostgreSQL binary COPY sends) and its SQL type
  on PostgreSQL and on SQLite;
- how it is read back: the pandas dtype the computation gets (``audits.selectors.release_frame``);
- how the API serves it: a Django REST framework field, by name, with its arguments (``api.serializers``).

The types are declared in the modules of ``audits.ingest.columns.types`` (each lists its own in ``TYPES``), and
this registry gathers every one of them: adding a type is an entry in one of those modules, or a new module, plus
its tests. Every other module asks this registry. The definitions are checked at start-up, which loads no
numerical library (``tests/test_startup.py``): numpy and pyarrow are imported by the functions that use them, when
a file is read. Pure: no Django, no database.
"""

from __future__ import annotations

import importlib
import pkgutil

from audits.ingest.columns import types
from audits.ingest.columns.base import ColumnType

__all__ = ["COLUMN_TYPES", "ColumnType"]


def _gather() -> dict[str, ColumnType]:
    """Every module's ``TYPES``, the modules in the order of their names (the order a definition error lists the
    types in), each module's types in its own order."""
    found: dict[str, ColumnType] = {}
    for module in sorted(pkgutil.iter_modules(types.__path__), key=lambda module: module.name):
        declared: tuple[ColumnType, ...] = importlib.import_module(f"{types.__name__}.{module.name}").TYPES
        for kind in declared:
            assert kind.name not in found, f"column type {kind.name} is declared twice"
            found[kind.name] = kind
    return found


COLUMN_TYPES: dict[str, ColumnType] = _gather()
