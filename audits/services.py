"""Writes: importing an extract as a release, withdrawing a release, running an import job, reading
patient rows.

One service, ``import_extract``, checks and stores an extract for every door (the command line
directly, the web and the API through an import job). Each service takes the ``Actor`` (who acts,
through which door), checks the role itself (``accounts.roles``) and writes the audit log inside its
own transaction: views, API views and commands only translate.
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

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.roles import analyst_group_name
from accounts.services import Actor
from audits import leases
from audits.ingest.messages import extract_too_large
from audits.models import Audit, ImportJob, Release
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


class ExtractTooLarge(ValueError):
    """The file is over settings.MAX_EXTRACT_BYTES (nothing was stored); the message names the limit."""


def check_extract_size(size: int) -> None:
    """ExtractTooLarge if a file of ``size`` bytes is over the limit (forms and serializers say why)."""
    problem = extract_too_large(size, settings.MAX_EXTRACT_BYTES)
    if problem:
        raise ExtractTooLarge(problem)


def _stream_size(stream: IO[bytes]) -> int | None:
    """The size of a file being imported, when it can be known without reading it."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        pass
    if getattr(stream, "seekable", lambda: False)():
        end = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        return end
    return None


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
    on_accept: Callable[[ImportOutcome], None] | None = None,
) -> ImportOutcome:
    """``import_extract`` once authorised; an import job runs it too (its upload was authorised and logged).

    ``on_accept`` runs inside the release's own transaction (an import job records its outcome there, so a
    committed release is never left behind by a job still "running").
    """
    from audits.ingest.parse import ExtractParser, ParseReport, RowError, TypedReadFailed

    size = _stream_size(stream)
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
    definition, parser, stream, file_name, extract_date, origin, user, uploaded_by_name, progress, log_as, on_accept
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
            if on_accept is not None:
                on_accept(ImportOutcome(ImportJob.Status.ACCEPTED, report, release))
            transaction.on_commit(lambda: after_release_accepted(release.pk))
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

    Raises PermissionDenied unless the actor may upload the audit's extracts, and ExtractTooLarge if the
    file is over MAX_EXTRACT_BYTES (the form and the API's serializer check it first, to say why).
    """
    authorise_upload(actor, audit_code)
    check_extract_size(upload.size or 0)
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
            heartbeat_at=timezone.now(),  # queued at: a job whose message never left is sent again (reap)
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
        transaction.on_commit(lambda: _queue_import(job.pk))
    return job


def _queue_import(job_id: int) -> None:
    """Send an import job to the workers (in-process: run it now). The job row records how its import ended;
    an exception here (an in-process import that failed, a broker that cannot be reached) is logged, and the
    door answers with the job as it stands. A job whose message was not sent stays queued until reaped."""
    from audits.tasks import run_import_job  # tasks import services; import here to keep that one way

    try:
        run_import_job.delay(job_id)
    except Exception:
        logger.exception("import job %s: could not be queued or run", job_id)


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
    """Run one import job if this process may take it (``audits.leases``): progress and the lease are renewed on
    the job row as blocks are checked, and an accepted job is recorded in its release's own transaction.

    A job another live process holds is left alone (a second copy of its message); one whose holder died is
    taken over (a message redelivered after a worker was killed), unless it already stopped its worker
    ``JOB_MAX_ATTEMPTS`` times: then it fails with that reason. The uploaded file is deleted when the import
    ends, however it ends (accepted, refused, failed, or stopped by an exception such as a time limit or a
    worker shutting down): the job keeps its name and size and an accepted release its SHA-256 too. A worker
    killed outright runs no ``finally``: its job stays running, with its file, until its lease runs out and
    it is run again (``reap_import_jobs``).
    """
    job = ImportJob.objects.select_related("audit", "submitted_by").get(pk=job_id)
    if job.finished:  # a redelivered message after the work was done; its worker may have died before deleting
        _discard_upload(job)
        return job
    if _take(job):
        taken_over = False
        try:
            taken_over = not _run_import(job)
        finally:
            if not taken_over:  # the process that took the job over needs its file
                _discard_upload(job)
    job.refresh_from_db()
    return job


def _as_seen(job: ImportJob):
    """The job's row as this process read it: a write conditional on it fails if another process moved first."""
    return ImportJob.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts, heartbeat_at=job.heartbeat_at)


def _take(job: ImportJob) -> bool:
    """Claim a queued job, or a running one whose holder is gone, for this process (counting the attempt)."""
    now = timezone.now()
    if job.status == ImportJob.Status.RUNNING and not leases.lost(job, now):
        return False  # another live process is running it
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        _end_lost_job(job)
        return False
    return leases.claim(_as_seen(job), job, ImportJob.Status.RUNNING, now)


def _committed_release(job: ImportJob) -> Release | None:
    """The release a job's import committed before its process died without recording it (jobs from before
    the outcome was recorded in the release's transaction): same audit, door, uploader and file name, uploaded
    after the job was submitted, and no other job's."""
    if job.release_id:
        return job.release
    return (
        Release.objects.filter(
            audit_id=job.audit_id,
            origin=job.origin,
            uploaded_by=job.submitted_by,
            file_name=job.file_name,
            uploaded_at__gte=job.submitted_at,
            import_jobs__isnull=True,
        )
        .order_by("version")
        .first()
    )


def _accepted_outcome(release: Release) -> ImportOutcome:
    """An accepted import's outcome, rebuilt from its stored release."""
    from audits.ingest.parse import ParseReport

    report = ParseReport(rows=release.rows, warnings=list(release.warnings), size_bytes=release.size_bytes)
    return ImportOutcome(ImportJob.Status.ACCEPTED, report, release)


FILE_GONE = (
    "the worker stopped while checking and loading this file, and the uploaded file is no longer there to check "
    "again; nothing was stored: upload the file again."
)


def _end_lost_job(job: ImportJob, failure: str = "") -> str | None:
    """A lost job that is not to run again: accepted if its release was committed, else failed with ``failure``
    (by default: it stopped its worker too many times). Returns what was done (None if another process moved
    first)."""
    release = _committed_release(job)
    now = timezone.now()
    if release is not None:
        done = _as_seen(job).update(**_ended(_accepted_outcome(release)), owner="")
        what = f"accepted: its release {release.version} was stored before its process stopped"
    else:
        reason = failure or (
            f"this file stopped its worker {job.attempts} times (lost after {job.attempts} attempts): the process "
            "checking and loading it stopped each time (killed, out of memory or restarted); nothing was stored. "
            "Upload it again once the service's administrators have looked at the workers' logs."
        )
        done = _as_seen(job).update(status=ImportJob.Status.FAILED, failure=reason, finished_at=now, owner="")
        what = f"failed: {reason}"
    if not done:
        return None
    job.refresh_from_db()
    _discard_upload(job)
    logger.warning("import job %s: %s", job.pk, what)
    return what


def reap_import_jobs() -> list[str]:
    """Find import jobs whose process is gone (``audits.leases``): send each again (its file is still there and
    it has attempts left), or end it: accepted if its release was committed, failed with the reason otherwise.
    Returns a line per job it touched. Safe to run anywhere, any time, by several processes at once."""
    now = timezone.now()
    done = []
    for job in ImportJob.objects.filter(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]).order_by("pk"):
        if not leases.lost(job, now):
            continue
        runnable = job.attempts < settings.JOB_MAX_ATTEMPTS and _committed_release(job) is None
        if runnable and _file_there(job):
            if _as_seen(job).update(status=ImportJob.Status.QUEUED, heartbeat_at=timezone.now(), owner=""):
                done.append(f"import {job.pk}: sent again (attempt {job.attempts + 1} of {settings.JOB_MAX_ATTEMPTS})")
                logger.warning("import job %s: its process stopped; sent again", job.pk)
                _queue_import(job.pk)
            continue
        what = _end_lost_job(job, FILE_GONE if runnable else "")
        if what:
            done.append(f"import {job.pk}: {what}")
    return done


def _file_there(job: ImportJob) -> bool:
    return bool(job.file) and job.file.storage.exists(job.file.name or "")


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


def _run_import(job: ImportJob) -> bool:
    """Check and load a claimed job's file; the outcome is written to the job row (only while this process
    still holds the job). False if another process took the job over meanwhile (nothing of this one's stays)."""
    mine = ImportJob.objects.filter(pk=job.pk, owner=job.owner, attempts=job.attempts)
    if _committed_release(job) is not None or not _file_there(job):
        _end_lost_job(job, FILE_GONE)  # accepted, or failed: nothing to check again
        return True
    last = [0.0]

    def progress(parser: ExtractParser) -> None:
        now = timezone.now()
        if now.timestamp() - last[0] >= 0.5:  # also renews the lease: one UPDATE each half second at most
            last[0] = now.timestamp()
            mine.update(bytes_done=parser.bytes_read, rows_done=parser.report.rows, heartbeat_at=now)

    def accepted(outcome: ImportOutcome) -> None:  # inside the release's transaction
        if not mine.update(**_ended(outcome)):
            raise leases.LeaseLost(f"import job {job.pk} was taken over by another process; its release is not stored")

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
                on_accept=accepted,
            )
    except leases.LeaseLost:
        logger.warning("import job %s: taken over by another process; this one stops", job.pk)
        return False
    except BaseException as exc:  # also a shutdown (SystemExit): its file is deleted, so it cannot be run again
        logger.exception("import job %s failed", job.pk)
        mine.update(status=ImportJob.Status.FAILED, finished_at=timezone.now(), failure=f"{type(exc).__name__}: {exc}")
        raise
    if not outcome.accepted:
        return bool(mine.update(**_ended(outcome)))
    return True


def _ended(outcome: ImportOutcome) -> dict[str, Any]:
    """A job row's fields once its import is accepted or refused."""
    return {
        "status": ImportJob.Status.ACCEPTED if outcome.accepted else ImportJob.Status.REJECTED,
        "finished_at": timezone.now(),
        "release": outcome.release,
        "result": outcome.as_json(),
        "rows_done": outcome.report.rows,
        "bytes_done": outcome.report.size_bytes,
    }
