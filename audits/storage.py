"""Where a release's rows are stored: one table per extract layout, and its columns.

Light on purpose (no Arrow, no pandas): readers that only need the layout import this, and the
loader (audits/ingest/load.py) writes to it.
"""

from __future__ import annotations

from django.db import connection

from audits.ingest.columns import COLUMN_TYPES
from audits.schema import AuditDefinition, Column


def storage_table_name(definition: AuditDefinition) -> str:
    return f"extract_{definition.code}_{definition.storage_sha[:10]}"


def stored_columns(definition: AuditDefinition) -> list[Column]:
    """The columns stored after ``release_id``: the file line, the extract's columns, the code as submitted."""
    return [Column("line", "integer"), *definition.columns, Column("provider_code_submitted", "text")]


def storage_columns(definition: AuditDefinition) -> list[tuple[str, str]]:
    """(name, SQL type on this database) in stored order: release, line, the extract's columns, the code as
    submitted."""
    return [("release_id", "bigint"), *((c.name, _sql_type(c)) for c in stored_columns(definition))]


def _sql_type(column: Column) -> str:
    kind = COLUMN_TYPES[column.type]
    return kind.postgresql if connection.vendor == "postgresql" else kind.sqlite
