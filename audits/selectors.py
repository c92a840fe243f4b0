"""Reads: releases, a release's rows (as a DataFrame, or a page of them), its data quality by trust for a
user, and an import's report for a user.

Patient rows reach a person only through ``audits.services.read_patient_rows``, which checks the role
and writes the audit log; the functions here that read rows are for it and for the computation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from psycopg2 import sql

from accounts import roles
from audits.ingest.columns import COLUMN_TYPES
from audits.ingest.messages import without_value
from audits.models import ImportJob, Release, Trust
from audits.schema import parse_definition
from audits.storage import stored_columns

if TYPE_CHECKING:
    import pandas as pd


def releases_with_current(audit_code: str) -> list[tuple[Release, bool]]:
    """An audit's releases, newest first, each with whether it is the current one (the newest published)."""
    releases = list(Release.objects.filter(audit_id=audit_code).order_by("-version"))
    current = next((r.pk for r in releases if r.is_published), None)
    return [(r, r.pk == current) for r in releases]


def release_frame(release: Release, columns: list[str] | None = None) -> pd.DataFrame:
    """A release's patient rows, typed as its definition declares (dates as datetime64)."""
    import pandas as pd  # the computation's libraries, imported when rows are read (start-up stays light)
    import pyarrow.csv as pacsv

    definition = parse_definition(release.definition, origin=f"release {release.pk}")
    stored = {c.name: c for c in stored_columns(definition)}
    wanted = columns or list(stored)
    types = {name: COLUMN_TYPES[stored[name].type].arrow(stored[name]) for name in wanted}
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
    for column in definition.columns:
        to_pandas = COLUMN_TYPES[column.type].pandas
        if column.name in wanted and to_pandas:
            frame[column.name] = to_pandas(frame[column.name])
    return frame


def row_columns(release: Release) -> list[tuple[str, str]]:
    """(name, column type) of a release's stored rows, in order: line, the extract's columns, the code as sent."""
    definition = parse_definition(release.definition, origin=f"release {release.pk}")
    return [(c.name, c.type) for c in stored_columns(definition)]


def release_rows(
    release: Release, *, after_line: int, limit: int, organisation: str | None = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` patient rows of a release after file line ``after_line``, in file order; with
    ``organisation``, only the rows of that trust (the extract's provider column, as mapped)."""
    names = [name for name, _ in row_columns(release)]
    provider = parse_definition(release.definition, origin=f"release {release.pk}").provider
    only = organisation is not None
    params: list[Any] = [release.pk, after_line, *([organisation] if only else []), limit]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            query = sql.SQL("SELECT {} FROM {} WHERE release_id = %s AND line > %s{} ORDER BY line LIMIT %s").format(
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.Identifier(release.storage_table),
                sql.SQL(" AND {} = %s").format(sql.Identifier(provider)) if only else sql.SQL(""),
            )
            cursor.execute(query.as_string(cursor.cursor.connection), params)
        else:
            quote = connection.ops.quote_name
            where = f" AND {quote(provider)} = %s" if only else ""
            cursor.execute(
                f"SELECT {', '.join(map(quote, names))} FROM {quote(release.storage_table)} "  # noqa: S608
                f"WHERE release_id = %s AND line > %s{where} ORDER BY line LIMIT %s",
                params,
            )
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class QualityByTrust:
    """The rows of a release's completeness by trust that a user may read.

    ``exact``: the audit's analysts, whose counts are shown as they are. Otherwise (an alliance lead's
    own trusts) the counts are to be published with ``indicators.disclosure.publish_quality_by_trust``
    before they leave the server, like every other count.
    """

    providers: list[dict[str, Any]]
    exact: bool


def quality_by_trust(user, release: Release) -> QualityByTrust | None:
    """Data quality by trust of ``release`` for ``user`` (the one answer for pages, downloads and the API):
    every trust for the audit's analysts, an alliance lead's own trusts, None for everyone else
    (staff included; the national summary by column is public)."""
    scope = roles.quality_by_trust_scope(user, release.audit_id)
    if scope is None:
        return None
    providers = list((release.quality_report or {}).get("providers", []))
    if scope != "all":
        members = set(Trust.objects.filter(alliance_id=scope).values_list("code", flat=True))
        providers = [p for p in providers if p["provider_code"] in members]
    return QualityByTrust(providers=providers, exact=scope == "all")


def import_report(job: ImportJob, user) -> dict[str, Any]:
    """An import's result (the report ``import_extract --json`` prints) as ``user`` may read it.

    Its error values come from the file's rows: the audit's analysts read them; anyone else who
    follows the import (staff) reads each error's line, column and a message without the value.
    """
    result = dict(job.result or {})
    if "errors" in result and not roles.can_see_values_in_error_reports(user, job.audit_id):
        result["errors"] = [without_value(error) for error in result["errors"]]
    return result


def import_failure(job: ImportJob, user) -> str:
    """Why an import failed: the exception's text may quote a row, so others than the audit's analysts
    read only its kind."""
    if not job.failure or roles.can_see_values_in_error_reports(user, job.audit_id):
        return job.failure
    return job.failure.split(":", 1)[0]
