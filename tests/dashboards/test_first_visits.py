"""Concurrent first visits after a run wait for one build of its pieces: never one build per visitor.

Real concurrency on PostgreSQL: each thread has its own database connection, so the data are
committed (a transactional test) and removed afterwards.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from dashboards import services
from dashboards.models import FigureSpec
from dashboards.selectors import CACHE
from indicators.models import IndicatorResult
from tests.dashboards import data

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
VISITORS = 6


def test_six_concurrent_first_visits_make_one_build_and_all_get_the_page(monkeypatch):
    loaded = data.load({"lung": 3_000})
    try:
        run = loaded["runs"]["lung"]
        trust = IndicatorResult.objects.filter(run=run, level="provider").order_by("-denominator")[0].organisation
        FigureSpec.objects.filter(run=run).delete()  # as if nothing had built the run's pieces yet
        CACHE.clear()
        builds: list[int] = []
        real = services.load_context

        def counted(run):
            builds.append(run.pk)
            time.sleep(0.5)  # a build takes a while: every visitor arrives during it
            return real(run)

        monkeypatch.setattr(services, "load_context", counted)
        barrier = threading.Barrier(VISITORS)
        answers: list[int] = []

        def visit() -> None:
            try:
                barrier.wait(timeout=10)
                answers.append(Client().get(reverse("trust", args=[trust])).status_code)
            finally:
                connection.close()  # this thread's connection

        threads = [threading.Thread(target=visit) for _ in range(VISITORS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert answers == [200] * VISITORS
        assert builds == [run.pk]
        assert FigureSpec.objects.filter(run=run, key=services.BUILT).count() == 1
    finally:
        data.clear()
