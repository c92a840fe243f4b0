"""Celery tasks for audits: thin wrappers that take ids and call one service."""

from audits import services
from cancerplan.celery import app


@app.task(name="audits.run_import_job", acks_late=True)
def run_import_job(job_id: int) -> str:
    return services.run_import_job(job_id).status
