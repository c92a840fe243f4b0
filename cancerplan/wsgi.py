import logging
import os
import threading
import time

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cancerplan.settings")
application = get_wsgi_application()


def _reap_in_process() -> None:
    """In-process mode has no broker, so no Celery beat: each serving process reaps jobs whose process stopped
    (an import or a run killed with the server) when it starts, then every half lease (indicators.services)."""
    from django.conf import settings
    from django.db import connections

    from indicators.services import reap_jobs

    while True:
        try:
            reap_jobs()
        except Exception:
            logging.getLogger("cancerplan.reaper").exception("reaping lost jobs failed")
        finally:
            connections.close_all()  # this thread's own connections
        time.sleep(settings.JOB_LEASE_SECONDS / 2)


def _start_in_process_reaper() -> None:
    # Here rather than in an AppConfig.ready: this module is loaded only by the processes that serve (runserver's
    # serving process, gunicorn's workers), never by migrate, the tests or other commands, and by then the apps
    # are ready (Django warns against queries during app start-up). A thread, so no request waits for it.
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        threading.Thread(target=_reap_in_process, name="job-reaper", daemon=True).start()


_start_in_process_reaper()
