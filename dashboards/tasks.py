"""Celery tasks for the dashboards: thin wrappers that take ids and call one service."""

from cancerplan.celery import app
from dashboards import services


@app.task(name="dashboards.build_run_pages", acks_late=True)
def build_run_pages(run_id: int) -> int:
    """Queued when a computation run becomes current: builds its page pieces before anyone asks for them."""
    return services.build_current_run_pages(run_id)
