"""Celery application: workers on any machine share the broker and PostgreSQL."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cancerplan.settings")

app = Celery("cancerplan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
