"""The task the end of a run can queue: it builds the run's pieces once, and only for a current run."""

import pytest

from dashboards.models import FigureSpec
from dashboards.tasks import build_run_pages

pytestmark = pytest.mark.django_db


def test_the_task_builds_a_current_runs_pieces_once(demo):
    run = demo["runs"]["lung"]
    FigureSpec.objects.filter(run=run).delete()
    count = build_run_pages.delay(run.pk).get()
    assert count == FigureSpec.objects.filter(run=run).count() > 0
    assert FigureSpec.objects.filter(run=run, key="built").exists()
    build_run_pages.delay(run.pk)  # again: nothing is duplicated
    assert FigureSpec.objects.filter(run=run).count() == count


def test_the_task_leaves_a_run_that_is_not_current_alone(demo):
    run = demo["runs"]["lung"]
    type(run).objects.filter(pk=run.pk).update(is_current=False)
    FigureSpec.objects.filter(run=run).delete()
    assert build_run_pages.delay(run.pk).get() == 0
    assert not FigureSpec.objects.filter(run=run).exists()
