"""Writes: importing an extract as a release, withdrawing a release, running an import job, reading
patient rows.

One service, ``import_extract``, checks and stores an extract for every door (the command line
directly, the web and the API through an import job). Each service takes the ``Actor`` (who acts,
through which door), checks the role itself (``audits.roles``) and writes the audit log inside its
own transaction: views, API views and commands only translate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits import roles
from audits.models import Audit, ImportJob, Release, analyst_group_name
from audits.organisations import provider_lookup
from audits.registry import get_definition
from audits.schema import AuditDefinition
from audits.selectors import release_rows, row_columns

if TYPE_CHECKING:
    from audits.ingest.parse import ExtractParser, ParseReport

# The ingest engine (Arrow, numpy) is imported by the functions that import an extract, so that
# pages and commands that only read or withdraw start without it.
logger = logging.getLogger(__name__)
Action, Via = AuditLogEntry.Action, AuditLogEntry.Via
_ORIGINS: dict[str, str] = {Via.WEB: Release.Origin.WEB, Via.API: Release.Origin.API, Via.CLI: Release.Origin.CLI}


class AlreadyWithdrawn(Exception):
    """The release was withdrawn before (nothing was changed or logged)."""


def _origin(actor: Actor) -> str:
    if actor.via not in _ORIGINS:
        raise ValueError(f"extracts are uploaded on the web, through the API or on the command line, not {actor.via}")
    return _ORIGINS[actor.via]


def authorise_upload(actor: Actor, audit_code: str) -> None:
    """PermissionDenied unless the actor may upload the audit's extracts (its analysts and staff)."""
    actor.require(
        lambda user: roles.can_upload(user, audit_code), "Only this audit's analysts and staff can upload its extracts."
    )


def authorise_withdraw(actor: Actor, release: Release) -> None:
    """PermissionDenied unless the actor may withdraw the release (its audit's analysts and staff)."""
    actor.require(
        lambda user: roles.can_withdraw(user, release.audit_id),
        "Only this audit's analysts and staff can withdraw its releases.",
    )


@dataclass
class ImportOutcome:
    status: str  # "accepted" or "rejected"
    report: ParseReport
    release: Release | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

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
    progress: Callable[[ExtractParser], None] | None = None,
) -> ImportOutcome:
    """Check an extract and, if every row passes, store it as the audit's next release, uploaded by ``actor``.

    The actor must be allowed to upload the audit's extracts. An accepted file is written to the audit
    log in the release's own transaction. A refused file leaves every table as it was, the audit log
    included: the release, its rows and any new storage table are written in one transaction that
    rolls back on error (the door tells the actor why).
    """
    authorise_upload(actor, audit_code)
    return _load_extract(
        audit_code=audit_code,
        stream=stream,
        file_name=file_name,
        extract_date=extract_date,
        origin=_origin(actor),
        user=actor.account,
        uploaded_by_name=actor.display_name,
        progress=progress,
        log_as=actor,
    )


def _load_extract(
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
) -> ImportOutcome:
    """``import_extract`` once authorised; an import job runs it too (its upload was authorised and logged)."""
    from audits.ingest.parse import ExtractParser, TypedReadFailed

    definition = get_definition(audit_code)
    providers = provider_lookup()
    seekable = getattr(stream, "seekable", lambda: False)()
    for typed_reading in (True, False) if seekable else (False,):
        parser = ExtractParser(definition, extract_date, providers, typed_reading=typed_reading)
        try:
            return _import_once(
                definition, parser, stream, file_name, extract_date, origin, user, uploaded_by_name, progress, log_as
            )
        except TypedReadFailed as exc:  # e.g. DD/MM/YYYY dates: check every value as text instead
            logger.info("reading %s as text: %s", file_name, exc)
            stream.seek(0)
    raise AssertionError("unreachable: the text reader never raises TypedReadFailed")


def _import_once(
    definition, parser, stream, file_name, extract_date, origin, user, uploaded_by_name, progress, log_as
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
            transaction.on_commit(lambda: after_release_accepted(release.pk))
    except ExtractRejected as rejected:
        return ImportOutcome("rejected", rejected.report)
    logger.info("accepted %s release %s: %s rows from %s", audit.code, release.version, rows, file_name)
    return ImportOutcome("accepted", report, release)


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
    """Queue the work that follows an accepted release (e.g. computing its indicators)."""
    for path in settings.AFTER_RELEASE_TASKS:
        import_string(path).delay(release_id)


@transaction.atomic
def withdraw_release(*, release: Release, actor: Actor, reason: str) -> Release:
    """Withdraw a release: the previous one becomes current; rows are kept for reproducibility.

    Raises PermissionDenied unless the actor may, and AlreadyWithdrawn if it was withdrawn before.
    """
    authorise_withdraw(actor, release)
    release = Release.objects.select_for_update().get(pk=release.pk)
    if release.is_withdrawn:
        raise AlreadyWithdrawn(f"Release {release.pk} was already withdrawn.")
    release.status = Release.Status.WITHDRAWN
    release.withdrawn_at = timezone.now()
    release.withdrawn_by = actor.account
    release.withdrawn_reason = reason
    release.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "withdrawn_reason"])
    actor.log(
        Action.WITHDREW,
        audit_code=release.audit_id,
        target=f"release {release.pk}",
        details={"version": release.version, "reason": reason},
    )
    return release


def create_import_job(*, audit_code: str, upload, extract_date: date, actor: Actor) -> ImportJob:
    """Save an uploaded file and queue its import once the job row (and its audit log entry) is committed.

    Raises PermissionDenied unless the actor may upload the audit's extracts.
    """
    authorise_upload(actor, audit_code)
    origin = _origin(actor)
    with transaction.atomic():
        audit = sync_audit(get_definition(audit_code))
        job = ImportJob.objects.create(
            audit=audit,
            file=upload,
            file_name=upload.name[:255],
            extract_date=extract_date,
            origin=origin,
            submitted_by=actor.account,
            bytes_total=upload.size or 0,
        )
        try:
            actor.log(
                Action.UPLOADED,
                audit_code=audit_code,
                target=f"import {job.pk}",
                details={
                    "file_name": job.file_name,
                    "size_bytes": job.bytes_total,
                    "extract_date": extract_date.isoformat(),
                },
            )
        except BaseException:
            job.file.delete(save=False)  # the job is rolled back: its saved file must not stay behind
            raise
        from audits.tasks import run_import_job  # tasks import services; import here to keep that one way

        transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


def read_patient_rows(
    *, release: Release, actor: Actor, after_line: int, limit: int
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Up to ``limit`` patient rows of a release after file line ``after_line``, and their columns.

    For the audit's analysts only; every read is written to the audit log in the same transaction
    (a read whose entry cannot be written fails).
    """
    actor.require(
        lambda user: roles.can_see_patient_rows(user, release.audit_id),
        "Patient-level rows are for this audit's analysts only.",
    )
    with transaction.atomic():
        columns = row_columns(release)
        rows = release_rows(release, after_line=after_line, limit=limit)
        actor.log(
            Action.READ_ROWS,
            audit_code=release.audit_id,
            target=f"release {release.pk}",
            details={"after_line": after_line, "limit": limit, "rows": len(rows)},
        )
    return columns, rows


def run_import_job(job_id: int) -> ImportJob:
    """Run one queued import: progress goes to the job row as blocks are checked.

    The uploaded file is deleted when the import ends, however it ends (accepted, refused, failed, or
    stopped by an exception such as a time limit or a worker shutting down): the job keeps its name and
    size and an accepted release its SHA-256 too. A worker killed outright runs no ``finally``; its file
    stays until the job is run again.
    """
    job = ImportJob.objects.select_related("audit", "submitted_by").get(pk=job_id)
    if job.finished:  # a redelivered message after the work was done; its worker may have died before deleting
        _discard_upload(job)
        return job
    try:
        _run_import(job)
    finally:
        _discard_upload(job)
    job.refresh_from_db()
    return job


def _discard_upload(job: ImportJob) -> None:
    """Delete an import's uploaded file from storage and forget its path."""
    if not job.file:
        return
    try:
        job.file.delete(save=False)
    except OSError:
        logger.exception("import job %s: could not delete its uploaded file", job.pk)
        return
    ImportJob.objects.filter(pk=job.pk).update(file="")


def _run_import(job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now())
    last = [0.0]

    def progress(parser: ExtractParser) -> None:
        now = timezone.now().timestamp()
        if now - last[0] >= 0.5:
            last[0] = now
            ImportJob.objects.filter(pk=job.pk).update(bytes_done=parser.bytes_read, rows_done=parser.report.rows)

    try:
        with job.file.open("rb") as stream:
            outcome = _load_extract(
                audit_code=job.audit_id,
                stream=stream,
                file_name=job.file_name,
                extract_date=job.extract_date,
                origin=job.origin,
                user=job.submitted_by,
                uploaded_by_name=job.submitted_by.get_username() if job.submitted_by else "",
                progress=progress,
                log_as=None,  # the upload was logged when the job was created
            )
    except BaseException as exc:  # also a shutdown (SystemExit): its file is deleted, so it cannot be run again
        logger.exception("import job %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, finished_at=timezone.now(), failure=f"{type(exc).__name__}: {exc}"
        )
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.ACCEPTED if outcome.accepted else ImportJob.Status.REJECTED,
        finished_at=timezone.now(),
        release=outcome.release,
        result=outcome.as_json(),
        rows_done=outcome.report.rows,
        bytes_done=outcome.report.size_bytes,
    )
