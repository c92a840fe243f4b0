"""Celery tasks for the alerts: thin wrappers that take ids and call one service."""

from alerts import services
from cancerplan.celery import app


@app.task(name="alerts.send_digests", acks_late=True)
def send_digests(release_id: int) -> int:
    """Queued when a release is published (settings.AFTER_PUBLISH_TASKS): one digest per subscription."""
    return services.send_digests(release_id)


@app.task(name="alerts.send_run_digests", acks_late=True)
def send_run_digests(run_id: int) -> int:
    """Queued when a run becomes current (settings.AFTER_RUN_TASKS): a release published before its results
    were ready gets its digests now (none twice: the digests sent are recorded)."""
    return services.send_run_digests(run_id)
