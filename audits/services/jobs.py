"""Import jobs, the web's and the API's imports: created with their upload (logged), run by a worker that holds
the job (``audits.leases``), and recovered when that worker is gone."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits import leases
from audits.models import ImportJob, Release
from audits.registry import get_definition
from audits.services.access import authorise_upload, door_of, origin_of
from audits.services.imports import ImportOutcome, load_extract, sync_audit
from audits.services.uploads import check_extract_size, discard_upload, file_there

if TYPE_CHECKING:
    from audits.ingest.parse import ExtractParser

logger = logging.getLogger(__name__)
Action = AuditLogEntry.Action


def create_import_job(*, audit_code: str, upload, extract_date: date, actor: Actor, publish: bool = False) -> ImportJob:
    """Save an uploaded file and queue its import once the job row (and its audit log entry) is committed.
    Its release is a draft unless ``publish`` (the web form's and the API's choice; by default a draft).

    Raises PermissionDenied unless the actor may upload the audit's extracts, and ExtractTooLarge if the
    file is over MAX_EXTRACT_BYTES (the form and the API's serializer check it first, to say why).
    """
    authorise_upload(actor, audit_code)
    check_extract_size(upload.size or 0)
    origin = origin_of(actor)
    with transaction.atomic():
        audit = sync_audit(get_definition(audit_code))
        job = ImportJob.objects.create(
            audit=audit,
            file=upload,
            file_name=upload.name[:255],
            extract_date=extract_date,
            origin=origin,
            publish=publish,
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
        discard_upload(job)
        return job
    if _take(job):
        taken_over = False
        try:
            taken_over = not _run_import(job)
        finally:
            if not taken_over:  # the process that took the job over needs its file
                discard_upload(job)
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
    discard_upload(job)
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
        if runnable and file_there(job):
            if _as_seen(job).update(status=ImportJob.Status.QUEUED, heartbeat_at=timezone.now(), owner=""):
                done.append(f"import {job.pk}: sent again (attempt {job.attempts + 1} of {settings.JOB_MAX_ATTEMPTS})")
                logger.warning("import job %s: its process stopped; sent again", job.pk)
                _queue_import(job.pk)
            continue
        what = _end_lost_job(job, FILE_GONE if runnable else "")
        if what:
            done.append(f"import {job.pk}: {what}")
    return done


def _run_import(job: ImportJob) -> bool:
    """Check and load a claimed job's file; the outcome is written to the job row (only while this process
    still holds the job). False if another process took the job over meanwhile (nothing of this one's stays)."""
    mine = ImportJob.objects.filter(pk=job.pk, owner=job.owner, attempts=job.attempts)
    if _committed_release(job) is not None or not file_there(job):
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
            outcome = load_extract(
                audit_code=job.audit_id,
                stream=stream,
                file_name=job.file_name,
                extract_date=job.extract_date,
                origin=job.origin,
                user=job.submitted_by,
                uploaded_by_name=job.submitted_by.get_username() if job.submitted_by else "",
                progress=progress,
                log_as=None,  # the upload was logged when the job was created
                publish_as=Actor(via=door_of(job.origin), user=job.submitted_by) if job.publish else None,
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
