"""The project package. Its Celery application is `cancerplan.celery.app`: the task modules import it (so a
process loads Celery only when it queues or runs a task) and `celery -A cancerplan` finds it there."""
