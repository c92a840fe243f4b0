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

from accounts.models import AuditLogEntry
from accounts.services import Actor
from audits import roles
from audits.models import Release, Trust
from audits.registry import get_definition
from indicators.definitions import columns_used
from indicators.disclosure import protect, suppression_policy
from indicators.models import ComputationRun, FunnelFit, IndicatorResult, RunIndicator, TrendSeries
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
    run = ComputationRun.objects.create(
        release=release, total=len(definitions), method_version=METHOD_VERSION, requested_by=user
    )
    RunIndicator.objects.bulk_create([RunIndicator(run=run, indicator=d.code, definition=d.raw) for d in definitions])
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
    """Compute and store one indicator of a run; idempotent, so a redelivered task is harmless."""
    entry = RunIndicator.objects.select_related("run__release").get(run_id=run_id, indicator=code)
    if entry.status == RunIndicator.Status.DONE:
        return entry
    run = entry.run
    now = timezone.now()
    RunIndicator.objects.filter(pk=entry.pk).update(
        status=RunIndicator.Status.RUNNING, started_at=now, attempts=entry.attempts + 1
    )
    ComputationRun.objects.filter(pk=run.pk, status=ComputationRun.Status.QUEUED).update(
        status=ComputationRun.Status.RUNNING, started_at=now
    )
    try:
        output = _compute(run.release, code)
    except Exception as exc:
        logger.exception("indicator %s of run %s failed", code, run.pk)
        reason = f"{code}: {type(exc).__name__}: {exc}"
        RunIndicator.objects.filter(pk=entry.pk).update(
            status=RunIndicator.Status.FAILED, failure=reason, finished_at=timezone.now()
        )
        ComputationRun.objects.filter(pk=run.pk).update(
            status=ComputationRun.Status.FAILED, failure=reason, finished_at=timezone.now()
        )
        raise
    _store(run, entry, code, output)
    entry.refresh_from_db()
    return entry


def _compute(release: Release, code: str):
    from indicators.compute import compute_indicator

    audit = get_definition(release.audit_id)
    indicator = next(i for i in indicators_for(release.audit_id) if i.code == code)
    frame = _release_rows(release)[columns_used(indicator, audit)]
    alliance_of = dict(Trust.objects.values_list("code", "alliance_id"))
    output = compute_indicator(
        frame, indicator, extract_date=release.extract_date, provider_column=audit.provider, alliance_of=alliance_of
    )
    return protect(output, indicator, alliance_of=alliance_of, policy=suppression_policy())


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
    for model in (IndicatorResult, FunnelFit, TrendSeries):  # a redelivered task replaces its own rows
        model.objects.filter(run=run, indicator=code).delete()
    results = output.results  # with what the public may see (indicators.disclosure.protect)
    records = results.astype(object).where(pd.notna(results), None).to_dict("records")
    IndicatorResult.objects.bulk_create(
        [
            IndicatorResult(
                run=run,
                release=release,
                audit_code=release.audit_id,
                indicator=code,
                method_version=run.method_version,
                **_clean(row),
            )
            for row in records
        ],
        batch_size=1000,
    )
    FunnelFit.objects.bulk_create([FunnelFit(run=run, indicator=code, **fit) for fit in output.funnels])
    TrendSeries.objects.bulk_create(
        [TrendSeries(run=run, indicator=code, **trend) for trend in output.trends], batch_size=500
    )
    RunIndicator.objects.filter(pk=entry.pk).update(
        status=RunIndicator.Status.DONE, finished_at=timezone.now(), model_card=output.model_card, failure=""
    )
    locked = ComputationRun.objects.select_for_update().get(pk=run.pk)
    locked.completed = RunIndicator.objects.filter(run=locked, status=RunIndicator.Status.DONE).count()
    if locked.completed == locked.total and locked.status != ComputationRun.Status.FAILED:
        _make_current(locked)
        _ROWS_CACHE.clear()  # the run is complete: free the rows
    locked.save()


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
    for model in (IndicatorResult, FunnelFit, TrendSeries):
        model.objects.filter(run__in=previous).delete()
    previous.update(is_current=False)
    run.is_current = True
    run.status = ComputationRun.Status.DONE
    run.finished_at = timezone.now()
    run_id = run.pk
    for path in settings.AFTER_RUN_TASKS:  # e.g. the dashboards' page pieces, built before anyone asks
        transaction.on_commit(partial(_send_after_run, path, run_id))


def _send_after_run(path: str, run_id: int) -> None:
    import_string(path).delay(run_id)
