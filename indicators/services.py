"""Writes: start a computation run, compute one indicator of it, and make a finished run current.

Tasks take ids and call these. Results of a run become visible only when its last
indicator finishes: the swap and the deletion of the previous run's results happen
in one transaction, so readers see the old results or the new, never a mix.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import roles
from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits import leases
from audits.models import Release, Trust
from audits.registry import get_definition
from indicators.bulk import insert_rows
from indicators.definitions import columns_used
from indicators.disclosure import protect, suppression_policy
from indicators.inequalities import parse_inequalities
from indicators.models import ComputationRun, FunnelFit, IndicatorResult, InequalityResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and the statistics are imported by the functions that compute, so that a web
# process or a command that only reads loads none of them.
logger = logging.getLogger(__name__)
METHOD_VERSION = "2026.11-1"


@transaction.atomic
def start_run(*, release: Release, user=None) -> ComputationRun:
    """Create a run with one entry per indicator and queue them once committed."""
    definitions = indicators_for(release.audit_id)
    now = timezone.now()  # queued at: an indicator whose message never left is sent again (reap_runs)
    run = ComputationRun.objects.create(
        release=release, total=len(definitions), method_version=METHOD_VERSION, requested_by=user, heartbeat_at=now
    )
    RunIndicator.objects.bulk_create(
        [RunIndicator(run=run, indicator=d.code, definition=d.raw, heartbeat_at=now) for d in definitions]
    )
    from indicators.tasks import compute_run_indicator  # tasks import services

    codes = [d.code for d in definitions]
    transaction.on_commit(lambda: [compute_run_indicator.delay(run.pk, code) for code in codes])
    return run


def recompute_release(*, release: Release, actor: Actor) -> ComputationRun:
    """Compute a release's indicators again, asked for by ``actor`` (the audit's analysts and staff, or the
    command line); the request is written to the audit log in the run's own transaction."""
    actor.require(
        lambda user: roles.can_recompute(user, release.audit_id),
        "Only this audit's analysts and staff can recompute its indicators.",
    )
    with transaction.atomic():
        run = start_run(release=release, user=actor.account)
        actor.log(
            AuditLogEntry.Action.RECOMPUTED,
            audit_code=release.audit_id,
            target=f"release {release.pk}",
            details={"run": run.pk, "version": release.version},
        )
    return run


def compute_for_release(release_id: int) -> ComputationRun:
    """What follows an accepted release (settings.AFTER_RELEASE_TASKS)."""
    return start_run(release=Release.objects.get(pk=release_id))


def compute_run_indicator(run_id: int, code: str) -> RunIndicator:
    """Compute and store one indicator of a run; idempotent, so a redelivered task is harmless.

    The indicator is claimed first (``audits.leases``): one another live process is computing is left alone,
    one whose process died is taken over, and one that already stopped its worker ``JOB_MAX_ATTEMPTS`` times
    fails the run with that reason instead of running again. Any exception, while computing or while storing
    the results, fails the indicator and the run with the reason; the previous run's results stay current.
    """
    entry = RunIndicator.objects.select_related("run__release").get(run_id=run_id, indicator=code)
    if entry.status in (RunIndicator.Status.DONE, RunIndicator.Status.FAILED):
        return entry
    if entry.run.status == ComputationRun.Status.FAILED or not _take(entry):
        entry.refresh_from_db()
        return entry
    run = entry.run
    ComputationRun.objects.filter(pk=run.pk, status=ComputationRun.Status.QUEUED).update(
        status=ComputationRun.Status.RUNNING, started_at=entry.started_at
    )
    try:
        _release_rows(run.release)  # read (or found in this process) before the statistics: renew in between
        _renew(entry)
        output = _compute(run.release, code)
        _renew(entry)
        _store(run, entry, code, output)
    except leases.LeaseLost:
        logger.warning("indicator %s of run %s: taken over by another process; this one stops", code, run.pk)
    except Exception as exc:
        logger.exception("indicator %s of run %s failed", code, run.pk)
        _fail(entry, f"{code}: {type(exc).__name__}: {exc}")
        raise
    entry.refresh_from_db()
    return entry


def _take(entry: RunIndicator) -> bool:
    """Claim a queued indicator, or a running one whose process is gone, for this process (counting the attempt)."""
    now = timezone.now()
    if entry.status == RunIndicator.Status.RUNNING and not leases.lost(entry, now):
        return False
    if entry.attempts >= settings.JOB_MAX_ATTEMPTS:
        _fail(entry, _stopped_reason(entry), expect_status=entry.status)
        return False
    as_seen = RunIndicator.objects.filter(pk=entry.pk, status=entry.status, attempts=entry.attempts)
    if not leases.claim(as_seen, entry, RunIndicator.Status.RUNNING, now):
        return False
    ComputationRun.objects.filter(pk=entry.run_id).update(heartbeat_at=now)
    return True


def _renew(entry: RunIndicator) -> None:
    now = timezone.now()
    RunIndicator.objects.filter(pk=entry.pk, owner=entry.owner).update(heartbeat_at=now)
    ComputationRun.objects.filter(pk=entry.run_id).update(heartbeat_at=now)


def _stopped_reason(entry: RunIndicator) -> str:
    return (
        f"{entry.indicator}: this indicator stopped its worker {entry.attempts} times (lost after {entry.attempts} "
        "attempts): the process computing it stopped each time (killed, out of memory or restarted). The previous "
        "results stay current; see the workers' logs, then recompute."
    )


def _fail(entry: RunIndicator, reason: str, expect_status: str | None = None) -> bool:
    """Fail an indicator and its run with the reason, in one transaction (the run's previous results stay)."""
    now = timezone.now()
    with transaction.atomic():
        entries = RunIndicator.objects.filter(pk=entry.pk)
        if expect_status is not None:
            entries = entries.filter(status=expect_status, attempts=entry.attempts)
        if not entries.update(status=RunIndicator.Status.FAILED, failure=reason, finished_at=now, owner=""):
            return False
        ComputationRun.objects.filter(pk=entry.run_id).exclude(status=ComputationRun.Status.DONE).update(
            status=ComputationRun.Status.FAILED, failure=reason, finished_at=now
        )
    logger.warning("run %s failed: %s", entry.run_id, reason)
    return True


def reap_runs() -> list[str]:
    """Find indicators whose process is gone (``audits.leases``) in runs not finished: send each again, or fail
    it and its run with the reason once it has stopped its worker ``JOB_MAX_ATTEMPTS`` times. Returns a line
    per indicator it touched. Safe to run anywhere, any time, by several processes at once."""
    from indicators.tasks import compute_run_indicator  # tasks import services

    now = timezone.now()
    done = []
    unfinished = (ComputationRun.Status.QUEUED, ComputationRun.Status.RUNNING)
    entries = RunIndicator.objects.filter(
        run__status__in=unfinished, status__in=[RunIndicator.Status.QUEUED, RunIndicator.Status.RUNNING]
    ).order_by("run_id", "indicator")
    for entry in entries:
        if not leases.lost(entry, now):
            continue
        if entry.attempts >= settings.JOB_MAX_ATTEMPTS:
            reason = _stopped_reason(entry)
            if _fail(entry, reason, expect_status=entry.status):
                done.append(f"run {entry.run_id}: failed: {reason}")
            continue
        requeued = RunIndicator.objects.filter(pk=entry.pk, status=entry.status, attempts=entry.attempts).update(
            status=RunIndicator.Status.QUEUED, heartbeat_at=timezone.now(), owner=""
        )
        if requeued:
            done.append(f"run {entry.run_id}: {entry.indicator} sent again (attempt {entry.attempts + 1})")
            logger.warning("run %s: %s lost its process; sent again", entry.run_id, entry.indicator)
            try:
                compute_run_indicator.delay(entry.run_id, entry.indicator)
            except Exception:  # in-process, the task ran here and failed: the run records why
                logger.exception("run %s: %s failed again", entry.run_id, entry.indicator)
    return done + _start_missing_runs()


def _start_missing_runs() -> list[str]:
    """A current release, or a newer draft, with no run at all: its process stopped between committing the release
    and starting the run (in-process), or the message never reached the broker. Start it (when releases are
    computed)."""
    if "indicators.tasks.compute_release" not in settings.AFTER_RELEASE_TASKS:
        return []
    done = []
    live = Release.objects.exclude(status=Release.Status.WITHDRAWN)
    for release in live.filter(runs__isnull=True).order_by("pk"):
        current = Release.objects.current(release.audit_id)
        newest = live.filter(audit_id=release.audit_id).order_by("-version").first()
        latest = {r.pk for r in (current, newest) if r is not None}
        if release.pk in latest and leases.queued_too_long(release.uploaded_at):
            done.append(f"release {release.pk}: run {start_run(release=release).pk} started (it had none)")
    return done


def reap_jobs() -> list[str]:
    """Every job whose process is gone: import jobs (``audits.services.reap_import_jobs``), then computation runs.
    Run by Celery beat every half lease, ``manage.py reap_jobs``, and in-process mode (``cancerplan.wsgi``)."""
    from audits.services import reap_import_jobs

    return reap_import_jobs() + reap_runs()


def _compute(release: Release, code: str):
    from indicators.compute import compute_indicator

    audit = get_definition(release.audit_id)
    indicator = next(i for i in indicators_for(release.audit_id) if i.code == code)
    frame = _release_rows(release)[columns_used(indicator, audit)]
    alliance_of = dict(Trust.objects.values_list("code", "alliance_id"))
    output = compute_indicator(
        frame,
        indicator,
        extract_date=release.extract_date,
        provider_column=audit.provider,
        alliance_of=alliance_of,
        dimensions=parse_inequalities(audit),
    )
    policy = suppression_policy()
    protected = protect(output, indicator, alliance_of=alliance_of, policy=policy)
    if protected.inequalities is not None:
        from indicators.compute.inequalities import protect_inequalities

        protected.inequalities = protect_inequalities(protected.inequalities, policy)
    return protected


_ROWS_CACHE: dict[tuple, pd.DataFrame] = {}


def _release_rows(release: Release) -> pd.DataFrame:
    """A release's rows, read once per worker process: a release never changes, and a worker
    computing one indicator of it usually computes the next one too. Keyed by the file's hash
    and table as well as the id, so a reused id (another database) never returns stale rows."""
    from audits.selectors import release_frame

    key = (release.pk, release.sha256, release.storage_table)
    if key not in _ROWS_CACHE:
        _ROWS_CACHE.clear()  # one release at a time bounds the memory
        _ROWS_CACHE[key] = release_frame(release)
    return _ROWS_CACHE[key]


@transaction.atomic
def _store(run: ComputationRun, entry: RunIndicator, code: str, output) -> None:
    import pandas as pd

    release = run.release
    # This process must still hold the indicator: lock its row (a process that took it over waits here).
    if not RunIndicator.objects.select_for_update().filter(pk=entry.pk, owner=entry.owner).exists():
        raise leases.LeaseLost(f"indicator {code} of run {run.pk} was taken over by another process")
    for model in (IndicatorResult, FunnelFit, TrendSeries, InequalityResult):  # a redelivered task replaces its rows
        model.objects.filter(run=run, indicator=code).delete()
    results = output.results  # with what the public may see (indicators.disclosure.protect)
    records = results.astype(object).where(pd.notna(results), None).to_dict("records")
    ours = {"run_id": run.pk, "indicator": code}
    insert_rows(
        IndicatorResult,
        (
            {**ours, "release_id": release.pk, "audit_code": release.audit_id, "method_version": run.method_version}
            | _clean(row)
            for row in records
        ),
    )
    insert_rows(FunnelFit, ({**ours, **fit} for fit in output.funnels))
    insert_rows(TrendSeries, ({**ours, **trend} for trend in output.trends))
    if output.inequalities is not None and len(output.inequalities):
        breakdowns = output.inequalities
        insert_rows(
            InequalityResult,
            (
                {**ours, "period": output.inequality_period, **_clean(row)}
                for row in breakdowns.astype(object).where(pd.notna(breakdowns), None).to_dict("records")
            ),
        )
    done = RunIndicator.objects.filter(pk=entry.pk, owner=entry.owner, status=RunIndicator.Status.RUNNING).update(
        status=RunIndicator.Status.DONE,
        finished_at=timezone.now(),
        model_card=output.model_card,
        failure=not_computed_note(code, output.model_card),
    )
    if not done:  # taken over by another process while this one computed: its rows above are rolled back
        raise leases.LeaseLost(f"indicator {code} of run {run.pk} was taken over by another process")
    locked = ComputationRun.objects.select_for_update().get(pk=run.pk)
    locked.completed = RunIndicator.objects.filter(run=locked, status=RunIndicator.Status.DONE).count()
    if locked.completed == locked.total and locked.status != ComputationRun.Status.FAILED:
        _make_current(locked)
        missing = sorted(
            RunIndicator.objects.filter(run=locked, failure__contains=NOT_COMPUTED).values_list("indicator", flat=True)
        )
        if missing:  # done, but not cleanly: the run's record says which indicators have no results
            locked.failure = f"{len(missing)} indicator{'s' if len(missing) != 1 else ''} {NOT_COMPUTED}: " + (
                ", ".join(missing)
            )
        _ROWS_CACHE.clear()  # the run is complete: free the rows
    locked.save()


def model_failed(card: dict | None) -> bool:
    """Whether an indicator's risk model could not be fitted or did not converge: it then has no
    risk-adjusted results, and its run says so (the run is not clean for it)."""
    if not card:
        return False
    return card.get("fitted") is False or card.get("converged") is False


NOT_COMPUTED = "not computed for this release"


def not_computed_note(code: str, card: dict | None) -> str:
    """The note a finished indicator keeps in ``RunIndicator.failure`` when its risk model failed ("" when it did
    not): the run finishes and its other indicators are shown, but this one is not reported as cleanly done.
    The reason is the model card's, in its plain words."""
    if not model_failed(card):
        return ""
    assert card is not None
    reason = str(card.get("reason") or "the risk model could not be fitted or did not converge").strip().rstrip(".")
    return f"{code}: {NOT_COMPUTED}: {reason}."


def _clean(row: dict) -> dict:
    """numpy scalars to Python, for the ORM."""
    import numpy as np

    out = {}
    for key, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            value = None
        out[key] = value
    return out


def _make_current(run: ComputationRun) -> None:
    """Swap the release's results to this run (inside the caller's transaction)."""
    previous = ComputationRun.objects.filter(release=run.release, is_current=True).exclude(pk=run.pk)
    for model in (IndicatorResult, FunnelFit, TrendSeries, InequalityResult):
        model.objects.filter(run__in=previous).delete()
    previous.update(is_current=False)
    run.is_current = True
    run.status = ComputationRun.Status.DONE
    run.finished_at = timezone.now()
    run_id = run.pk
    for path in settings.AFTER_RUN_TASKS:  # e.g. the dashboards' page pieces, built before anyone asks
        transaction.on_commit(partial(_send_after_run, path, run_id))


def _send_after_run(path: str, run_id: int) -> None:
    """Queue (in-process: run) work that follows a run becoming current. The run is done and current whatever
    happens here; a failure is logged and noted on the run (pages build their pieces on first visit)."""
    try:
        import_string(path).delay(run_id)
    except Exception as exc:
        logger.exception("run %s: %s failed", run_id, path)
        ComputationRun.objects.filter(pk=run_id).update(failure=f"{path} failed ({type(exc).__name__}: {exc})")
