"""Celery tasks for indicators: thin wrappers that take ids and call one service."""

from celery import shared_task

from indicators import services


@shared_task(name="indicators.compute_release", acks_late=True)
def compute_release(release_id: int) -> int:
    """Queued after a release is accepted: starts a run that fans out per indicator."""
    return services.compute_for_release(release_id).pk


@shared_task(name="indicators.compute_run_indicator", acks_late=True, reject_on_worker_lost=True)
def compute_run_indicator(run_id: int, code: str) -> str:
    return services.compute_run_indicator(run_id, code).status
