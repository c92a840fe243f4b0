"""Page data and chart specifications, built once per computation run and read by the pages."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from indicators.models import ComputationRun


class FigureSpec(models.Model):
    """One piece of a page for one run: formatted numbers, sentences and Plotly figure specifications.

    Keys name what the piece is for, e.g. ``trust:RBV:public`` or
    ``indicator:early_stage:2024/25:analyst``; ``public`` pieces have
    small-number suppression applied, ``analyst`` pieces do not. A run's
    results never change once it is current, so neither do its pieces; they go
    when the run is deleted, and a newer run gets its own.
    """

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    data = models.JSONField()
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="figure_spec_unique")]

    def __str__(self) -> str:
        return f"{self.key} of run {self.run_id}"
