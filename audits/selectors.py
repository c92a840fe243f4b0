"""Reads: releases, organisations, and a release's rows as a DataFrame."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from django.db import connection
from psycopg2 import sql

from audits.models import Release
from audits.schema import parse_definition
from audits.storage import storage_columns

if TYPE_CHECKING:
    import pandas as pd


def releases_with_current(audit_code: str) -> list[tuple[Release, bool]]:
    """An audit's releases, newest first, each with whether it is the current one."""
    releases = list(Release.objects.filter(audit_id=audit_code).order_by("-version"))
    current = next((r.pk for r in releases if not r.is_withdrawn), None)
    return [(r, r.pk == current) for r in releases]


def release_frame(release: Release, columns: list[str] | None = None) -> pd.DataFrame:
    """A release's patient rows, typed as its definition declares (dates as datetime64)."""
    import pandas as pd  # the computation's libraries, imported when rows are read (start-up stays light)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrow = {
        "text": pa.string(),
        "code": pa.string(),
        "provider": pa.string(),
        "integer": pa.int32(),
        "date": pa.date32(),
        "boolean": pa.bool_(),
    }
    definition = parse_definition(release.definition, origin=f"release {release.pk}")
    kinds = {c.name: c.type for c in definition.columns}
    wanted = columns or [name for name, _ in storage_columns(definition) if name != "release_id"]
    types = {
        name: (arrow[kinds[name]] if name in kinds else (pa.int32() if name == "line" else pa.string()))
        for name in wanted
    }
    if connection.vendor == "postgresql":
        query = sql.SQL(
            "COPY (SELECT {} FROM {} WHERE release_id = {} ORDER BY line) TO STDOUT WITH (FORMAT csv, HEADER)"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, wanted)),
            sql.Identifier(release.storage_table),
            sql.Literal(release.pk),
        )
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(query.as_string(cursor.cursor.connection), buffer)
        buffer.seek(0)
        table = pacsv.read_csv(
            buffer,
            convert_options=pacsv.ConvertOptions(
                column_types=types, true_values=["t", "true"], false_values=["f", "false"]
            ),
        )
        frame = table.to_pandas()
    else:
        quote = connection.ops.quote_name
        connection.ensure_connection()
        frame = pd.read_sql_query(
            f"SELECT {', '.join(map(quote, wanted))} FROM {quote(release.storage_table)} "  # noqa: S608
            f"WHERE release_id = ? ORDER BY line",
            connection.connection,
            params=[release.pk],
        )
    for name in wanted:
        if kinds.get(name) == "date":
            frame[name] = pd.to_datetime(frame[name])
        elif kinds.get(name) == "boolean":
            frame[name] = frame[name].astype("boolean")
        elif kinds.get(name) == "integer":
            frame[name] = frame[name].astype("Int32")
    return frame
