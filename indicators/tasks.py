"""Celery tasks for indicators: thin wrappers that take ids and call one service."""

from cancerplan.celery import app
from indicators import services


@app.task(name="indicators.compute_release", acks_late=True)
def compute_release(release_id: int) -> int:
    """Queued after a release is accepted: starts a run that fans out per indicator."""
    return services.compute_for_release(release_id).pk


@app.task(name="indicators.compute_run_indicator", acks_late=True, reject_on_worker_lost=True)
def compute_run_indicator(run_id: int, code: str) -> str:
    return services.compute_run_indicator(run_id, code).status


@app.task(name="indicators.reap_jobs", acks_late=False, ignore_result=True)
def reap_jobs() -> int:
    """Sent by Celery beat every half lease (CELERY_BEAT_SCHEDULE): import jobs and runs whose worker is gone
    are sent again, or fail with the reason after JOB_MAX_ATTEMPTS."""
    return len(services.reap_jobs())
