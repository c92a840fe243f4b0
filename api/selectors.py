"""Reads for the API that the apps' own selectors do not offer: each is one query."""

from __future__ import annotations

from typing import Any

from django.db import connection
from psycopg2 import sql

from audits.models import Alliance, Release, Trust
from audits.schema import parse_definition
from audits.storage import storage_columns
from indicators.models import ENGLAND_CODE


def current_release_ids(audit_code: str | None = None) -> dict[str, int]:
    """The current (newest accepted) release of each audit, by audit code."""
    releases = Release.objects.accepted()
    if audit_code:
        releases = releases.filter(audit_id=audit_code)
    current: dict[str, int] = {}
    for audit, pk in releases.order_by("audit_id", "-version").values_list("audit_id", "pk"):
        current.setdefault(audit, pk)
    return current


def organisation_names() -> dict[str, str]:
    """Names of every trust, alliance and England, by code (two queries)."""
    return {
        **dict(Trust.objects.values_list("code", "name")),
        **dict(Alliance.objects.values_list("code", "name")),
        ENGLAND_CODE: "England",
    }


def row_columns(release: Release) -> list[tuple[str, str]]:
    """(name, column type) of a release's stored rows, in order: line, the extract's columns, the code as sent."""
    definition = parse_definition(release.definition, origin=f"release {release.pk}")
    kinds = {c.name: c.type for c in definition.columns}
    return [
        (name, kinds.get(name, "integer" if name == "line" else "text"))
        for name, _ in storage_columns(definition)
        if name != "release_id"
    ]


def release_rows(release: Release, *, after_line: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` patient rows of a release after file line ``after_line``, in file order."""
    names = [name for name, _ in row_columns(release)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            query = sql.SQL("SELECT {} FROM {} WHERE release_id = %s AND line > %s ORDER BY line LIMIT %s").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier(release.storage_table)
            )
            cursor.execute(query.as_string(cursor.cursor.connection), [release.pk, after_line, limit])
        else:
            quote = connection.ops.quote_name
            cursor.execute(
                f"SELECT {', '.join(map(quote, names))} FROM {quote(release.storage_table)} "  # noqa: S608
                "WHERE release_id = %s AND line > %s ORDER BY line LIMIT %s",
                [release.pk, after_line, limit],
            )
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
