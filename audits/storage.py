"""Where a release's rows are stored: one table per extract layout, and its columns.

Light on purpose (no Arrow, no pandas): readers that only need the layout import this, and the
loader (audits/ingest/load.py) writes to it.
"""

from __future__ import annotations

from audits.schema import AuditDefinition

SQL_TYPES = {
    "text": "text",
    "code": "text",
    "provider": "text",
    "integer": "integer",
    "date": "date",
    "boolean": "boolean",
}


def storage_table_name(definition: AuditDefinition) -> str:
    return f"extract_{definition.code}_{definition.storage_sha[:10]}"


def storage_columns(definition: AuditDefinition) -> list[tuple[str, str]]:
    """(name, SQL type) in stored order: release, line, the extract's columns, the code as submitted."""
    columns = [("release_id", "bigint"), ("line", "integer")]
    columns += [(c.name, SQL_TYPES[c.type]) for c in definition.columns]
    columns.append(("provider_code_submitted", "text"))
    return columns
