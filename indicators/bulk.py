"""Many result rows into one table at once: PostgreSQL's COPY, or ``bulk_create`` on other databases.

A run stores thousands of rows per indicator (results, quarterly trends, breakdowns); ``bulk_create`` spends
most of its time in Python, compiling a parameter per field per row. COPY takes one text stream instead: the
same rows, the same values (every field's own default where a row leaves it out), a fraction of the time.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import connections, models, router


def insert_rows(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (field attribute names, such as ``run_id``, to Python values) into ``model``'s table, in the
    current transaction. A field a row leaves out takes its default; the primary key is the table's own."""
    rows = list(rows)
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create([model(**row) for row in rows], batch_size=1000)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    defaults = {field.attname: field.get_default() for field in fields}  # as the ORM fills a field left out
    unknown = set().union(*(row.keys() for row in rows)) - {field.attname for field in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    writers = [(field.attname, _writer(field)) for field in fields]
    stream = io.StringIO()
    for row in rows:
        stream.write(",".join(write(row[name] if name in row else defaults[name]) for name, write in writers))
        stream.write("\n")
    stream.seek(0)
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)  # concrete: each has one
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", stream)


def _writer(field: models.Field) -> Callable[[Any], str]:
    """A value of ``field`` as a CSV field of COPY: NULL unquoted and empty, any text quoted (so an empty text is
    not NULL), JSON by the field's encoder."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda value: "" if value is None else _quoted(json.dumps(value, cls=encoder))
    return _scalar


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):  # numpy's floats too, whose own repr is "np.float64(...)"
        return float.__repr__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, dt.date):  # and datetimes, with their offset
        return value.isoformat()
    return _quoted(str(value))


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
