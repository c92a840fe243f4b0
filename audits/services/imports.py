"""Importing an extract: checked and, if every row passes, stored as the audit's next release, whatever the door.

``import_extract`` is the service every door uses (the command line directly, the web and the API through an
import job, ``audits.services.jobs``, which runs ``load_extract`` once the upload was authorised and logged).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import AuditLogEntry
from accounts.roles import analyst_group_name
from accounts.services import Actor
from audits.ingest.messages import extract_too_large
from audits.models import Audit, ImportJob, Release
from audits.organisations import provider_lookup
from audits.registry import get_definition
from audits.schema import AuditDefinition
from audits.services.access import authorise_upload, origin_of
from audits.services.releases import mark_published
from audits.services.uploads import stream_size

if TYPE_CHECKING:
    from audits.ingest.parse import ExtractParser, ParseReport

# The ingest engine (Arrow, numpy) is imported by the functions that import an extract, so that
# pages and commands that only read or withdraw start without it.
logger = logging.getLogger(__name__)
Action = AuditLogEntry.Action


@dataclass
class ImportOutcome:
    status: str  # ImportJob.Status.ACCEPTED or REJECTED
    report: ParseReport
    release: Release | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ImportJob.Status.ACCEPTED

    def as_json(self) -> dict[str, Any]:
        """The report every door returns (the command's --json, the API, the job page)."""
        return {
            "status": self.status,
            "release": self.release.pk if self.release else None,
            "version": self.release.version if self.release else None,
            "rows": self.report.rows,
            "errors": [e.as_dict() for e in self.report.errors],
            "error_count": self.report.error_count,
            "warnings": list(self.report.warnings),
        }


def sync_audit(definition: AuditDefinition) -> Audit:
    """Make sure the audit's database record and analyst group exist and match its file."""
    audit, _ = Audit.objects.update_or_create(
        code=definition.code,
        defaults={"name": definition.name, "short_name": definition.short_name, "definition_sha": definition.sha256},
    )
    Group.objects.get_or_create(name=analyst_group_name(definition.code))
    return audit


def import_extract(
    *,
    audit_code: str,
    stream: IO[bytes],
    file_name: str,
    extract_date: date,
    actor: Actor,
    publish: bool = True,
    progress: Callable[[ExtractParser], None] | None = None,
) -> ImportOutcome:
    """Check an extract and, if every row passes, store it as the audit's next release, uploaded by ``actor``:
    published at once (``publish``, the command line's default: pipelines run by analysts who checked their
    extract already), or a draft that the audit's analysts publish later (``publish_release``).

    The actor must be allowed to upload the audit's extracts (they may then publish them too). An accepted
    file, and its publication, are written to the audit log in the release's own transaction. A refused file
    leaves every table as it was, the audit log included: the release, its rows and any new storage table are
    written in one transaction that rolls back on error (the door tells the actor why).
    """
    authorise_upload(actor, audit_code)
    return load_extract(
        audit_code=audit_code,
        stream=stream,
        file_name=file_name,
        extract_date=extract_date,
        origin=origin_of(actor),
        user=actor.account,
        uploaded_by_name=actor.display_name,
        progress=progress,
        log_as=actor,
        publish_as=actor if publish else None,
    )


def load_extract(
    *,
    audit_code: str,
    stream: IO[bytes],
    file_name: str,
    extract_date: date,
    origin: str,
    user: Any,
    uploaded_by_name: str,
    progress: Callable[[ExtractParser], None] | None,
    log_as: Actor | None,
    publish_as: Actor | None = None,
    on_accept: Callable[[ImportOutcome], None] | None = None,
) -> ImportOutcome:
    """``import_extract`` once authorised; an import job runs it too (its upload was authorised and logged).

    With ``publish_as``, an accepted release is published at once by that actor; without, it is a draft.
    ``on_accept`` runs inside the release's own transaction (an import job records its outcome there, so a
    committed release is never left behind by a job still "running").
    """
    from audits.ingest.parse import ExtractParser, ParseReport, RowError, TypedReadFailed

    size = stream_size(stream)
    problem = extract_too_large(size or 0, settings.MAX_EXTRACT_BYTES)
    if problem:  # refused before a byte is read (a stream of unknown size is bounded by its upload)
        return ImportOutcome(
            ImportJob.Status.REJECTED, ParseReport(errors=[RowError(None, "", "", problem)], error_count=1)
        )
    definition = get_definition(audit_code)
    providers = provider_lookup()
    seekable = getattr(stream, "seekable", lambda: False)()
    with _sqlite_import_turn():
        for typed_reading in (True, False) if seekable else (False,):
            parser = ExtractParser(definition, extract_date, providers, typed_reading=typed_reading)
            try:
                return _import_once(
                    definition,
                    parser,
                    stream,
                    file_name,
                    extract_date,
                    origin,
                    user,
                    uploaded_by_name,
                    progress,
                    log_as,
                    publish_as,
                    on_accept,
                )
            except TypedReadFailed as exc:  # e.g. DD/MM/YYYY dates: check every value as text instead
                logger.info("reading %s as text: %s", file_name, exc)
                stream.seek(0)
    raise AssertionError("unreachable: the text reader never raises TypedReadFailed")


@contextmanager
def _sqlite_import_turn() -> Iterator[None]:
    """On SQLite, imports take turns (one writer at a time: a second import's transaction would wait for the
    first's write lock only as long as the busy timeout). A lock file beside the database serialises them
    across the processes of one machine; PostgreSQL needs none (``audits.ingest.load.lock_audit``)."""
    database = str(connection.settings_dict["NAME"])
    if connection.vendor != "sqlite" or os.name != "posix" or not os.path.isfile(database):  # not in memory
        yield
        return
    import fcntl

    with open(f"{database}.import-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _import_once(
    definition,
    parser,
    stream,
    file_name,
    extract_date,
    origin,
    user,
    uploaded_by_name,
    progress,
    log_as,
    publish_as,
    on_accept,
) -> ImportOutcome:
    from audits.ingest.load import copy_batches, ensure_table, lock_audit
    from audits.ingest.parse import ExtractRejected

    try:
        with transaction.atomic():
            audit = sync_audit(definition)
            lock_audit(audit.code)
            table = ensure_table(definition)
            version = (
                Release.objects.filter(audit=audit).order_by("-version").values_list("version", flat=True).first() or 0
            ) + 1
            release = Release.objects.create(
                audit=audit,
                version=version,
                status=Release.Status.DRAFT,
                file_name=file_name[:255],
                sha256=f"pending-{version}",
                extract_date=extract_date,
                origin=origin,
                uploaded_by=user,
                uploaded_by_name=uploaded_by_name or (user.get_username() if user else ""),
                definition=definition.raw,
                definition_sha=definition.sha256,
                storage_table=table,
            )
            rows = copy_batches(
                definition=definition,
                table=table,
                release_id=release.pk,
                batches=parser.batches(stream),
                parser=parser,
                progress=progress,
            )
            report = parser.finish()
            _refuse_repeated_file(audit, report)
            release.sha256 = report.sha256
            release.size_bytes = report.size_bytes
            release.rows = rows
            release.period_start = report.period_start
            release.period_end = report.period_end
            release.quality_report = report.quality
            release.warnings = report.warnings
            release.save()
            if log_as is not None:
                log_as.log(
                    Action.UPLOADED,
                    audit_code=audit.code,
                    target=f"release {release.pk}",
                    details={
                        "file_name": file_name,
                        "extract_date": extract_date.isoformat(),
                        "status": "accepted",
                        "rows": rows,
                        "error_count": report.error_count,
                    },
                )
            if on_accept is not None:
                on_accept(ImportOutcome(ImportJob.Status.ACCEPTED, report, release))
            transaction.on_commit(lambda: after_release_accepted(release.pk))
            if publish_as is not None:  # its tasks follow the computation's (in process, they find its results)
                mark_published(release, publish_as)
    except ExtractRejected as rejected:
        return ImportOutcome(ImportJob.Status.REJECTED, rejected.report)
    logger.info("accepted %s release %s: %s rows from %s", audit.code, release.version, rows, file_name)
    return ImportOutcome(ImportJob.Status.ACCEPTED, report, release)


def _refuse_repeated_file(audit: Audit, report: ParseReport) -> None:
    from audits.ingest.parse import ExtractRejected, RowError

    earlier = Release.objects.filter(audit=audit, sha256=report.sha256).first()
    if earlier:
        when = timezone.localtime(earlier.uploaded_at).strftime("%d %b %Y %H:%M")
        state = " (since withdrawn)" if earlier.is_withdrawn else ""
        report.error_count += 1
        report.errors.insert(
            0,
            RowError(
                None,
                "",
                report.sha256,
                f"this file was already imported as {audit.code} release {earlier.version}"
                f"{state} on {when}; nothing was imported",
            ),
        )
        raise ExtractRejected(report)


def after_release_accepted(release_id: int) -> None:
    """Queue the work that follows an accepted release (e.g. computing its indicators).

    The release is committed and its import accepted whatever happens here: a failure of that work (in
    process, where the task runs inside ``delay``; or a broker that cannot be reached) is the computation
    run's to record and is logged, never the import's outcome.
    """
    for path in settings.AFTER_RELEASE_TASKS:
        try:
            import_string(path).delay(release_id)
        except Exception:
            logger.exception("release %s: %s failed; the release stays accepted", release_id, path)
