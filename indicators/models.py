"""Computed indicator results, and the runs that compute them.

A run computes every indicator of one release, fanned out one Celery task per
indicator. Its results become visible only when the last indicator finishes:
then, in one transaction, the run becomes the release's current run and the
previous run's results are deleted. A run that fails or whose worker dies
leaves the previous results in place.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audits.models import Release
from indicators import levels


class RunStatus(models.TextChoices):
    """The states of a run, and of each of its indicators (``ComputationRun.Status``, ``RunIndicator.Status``)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ComputationRun(models.Model):
    Status = RunStatus

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    is_current = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    method_version = models.CharField(max_length=40)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of work on any of its indicators")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["release"], condition=models.Q(is_current=True), name="one_current_run_per_release"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.release}"

    @property
    def progress_text(self) -> str:
        if self.status == self.Status.RUNNING:
            return f"running {self.completed} of {self.total}"
        if self.status == self.Status.FAILED:
            return f"failed: {self.failure}"
        if self.status == self.Status.DONE and self.failure:  # e.g. its page pieces could not be built
            return f"done; {self.failure}"
        return self.get_status_display().lower()


class RunIndicator(models.Model):
    """One indicator of a run: the unit of fan-out, its progress, and its model card."""

    Status = RunStatus

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="indicators")
    indicator = models.CharField(max_length=63)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The lease (audits.leases): when it was queued or last renewed, and by which process.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the process computing it")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)
    model_card = models.JSONField(null=True, blank=True)
    definition = models.JSONField(default=dict)

    class Meta:
        ordering = ["run_id", "indicator"]
        constraints = [models.UniqueConstraint(fields=["run", "indicator"], name="run_indicator_unique")]

    def __str__(self) -> str:
        return f"{self.indicator} in run {self.run_id}"


class Level(models.TextChoices):
    PROVIDER = levels.PROVIDER, "NHS trust"
    ALLIANCE = levels.ALLIANCE, "Cancer Alliance"
    NATIONAL = levels.NATIONAL, "England"


class FunnelFit(models.Model):
    """The funnel of one indicator, level and period: target, overdispersion and method."""

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="funnels")
    indicator = models.CharField(max_length=63)
    level = models.CharField(max_length=8, choices=Level.choices)
    period = models.CharField(max_length=64)
    kind = models.CharField(max_length=10)
    method = models.CharField(max_length=10)
    target = models.FloatField(null=True)
    phi = models.FloatField(null=True)
    tau2 = models.FloatField(null=True)
    n_units = models.PositiveIntegerField(default=0)
    overdispersion = models.CharField(max_length=14)
    overdispersion_applied = models.BooleanField(default=False)
    expected_flags = models.FloatField(null=True, help_text="Alerts expected by chance alone (5% of units).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "indicator", "level", "period"], name="funnel_fit_unique")
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.level} funnel {self.period}"


class IndicatorResult(models.Model):
    """One indicator for one organisation (or England) and one period, from one run."""

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="results")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="+")
    audit_code = models.CharField(max_length=63)
    indicator = models.CharField(max_length=63)
    level = models.CharField(max_length=8, choices=Level.choices)
    organisation = models.CharField(max_length=9)
    period = models.CharField(
        max_length=64,
        help_text="Audit year April-March (2024/25), or all years (2023/24-2025/26); a period covered only in "
        "part says to when (2025/26, April to June 2025)",
    )
    period_start = models.DateField()
    period_end = models.DateField()
    numerator = models.IntegerField()
    denominator = models.IntegerField()
    observed = models.FloatField(null=True)
    expected = models.FloatField(null=True)
    value = models.FloatField(null=True, help_text="Proportion, or O/E for risk-adjusted indicators")
    adjusted_rate = models.FloatField(null=True, help_text="O/E x national rate (risk-adjusted indicators)")
    ci_lower = models.FloatField(null=True)
    ci_upper = models.FloatField(null=True)
    ci_lower_998 = models.FloatField(null=True)
    ci_upper_998 = models.FloatField(null=True)
    shrunken_value = models.FloatField(
        null=True,
        help_text="Reliability-adjusted (empirical Bayes) estimate of a trust's or alliance's proportion "
        "(beta-binomial) or O/E (gamma-Poisson): its crude figure pulled towards the figure of all its level's units "
        "by 1 - reliability; null for England",
    )
    shrunken_lower = models.FloatField(
        null=True, help_text="95% interval of the shrunken estimate (posterior beta, or gamma for O/E)"
    )
    shrunken_upper = models.FloatField(null=True)
    reliability = models.FloatField(
        null=True,
        help_text="Share of the crude figure's variance that is real difference between units, n / (n + M) or, for "
        "O/E, E / (E + beta): near 0 the figure is mostly chance, near 1 it is mostly the unit's own",
    )
    national_value = models.FloatField(null=True)
    limit_lower_95 = models.FloatField(null=True)
    limit_upper_95 = models.FloatField(null=True)
    limit_lower_998 = models.FloatField(null=True)
    limit_upper_998 = models.FloatField(null=True)
    limit_lower_95_unadjusted = models.FloatField(null=True)
    limit_upper_95_unadjusted = models.FloatField(null=True)
    limit_lower_998_unadjusted = models.FloatField(null=True)
    limit_upper_998_unadjusted = models.FloatField(null=True)
    z = models.FloatField(null=True)
    flag = models.CharField(max_length=10, default="none")
    eligible = models.BooleanField(default=True, help_text="Denominator at least the indicator's minimum")
    coverage = models.FloatField(null=True, help_text="Share of the period's days whose follow-up is complete")
    partial = models.BooleanField(default=False, help_text="The period is covered only in part (see period_end)")
    field_completeness = models.FloatField(
        null=True, help_text="Share of the patients with the field the indicator requires recorded"
    )
    expected_variance = models.FloatField(
        null=True, help_text="Variance of the observed count under the risk model: the sum of p(1 - p)"
    )
    note = models.TextField(blank=True, default="", help_text="Why a period has no flags, or a result no value")
    suppressed = models.BooleanField(
        default=False,
        help_text="Hidden from everyone but the audit's analysts: a count is small (primary suppression) or would "
        "let one be worked out (secondary suppression)",
    )
    public = models.JSONField(
        null=True,
        blank=True,
        help_text="What everyone but the audit's analysts sees of a shown trust or alliance row: rounded counts and "
        "the figures computed from them (indicators.disclosure.protect); null for England and hidden rows",
    )
    method_version = models.CharField(max_length=40)

    class Meta:
        ordering = ["indicator", "level", "organisation", "period"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "indicator", "level", "organisation", "period"], name="indicator_result_unique"
            )
        ]
        indexes = [models.Index(fields=["release", "indicator", "level", "period"])]

    def __str__(self) -> str:
        return f"{self.indicator} {self.organisation} {self.period}"


class TrendSeries(models.Model):
    """Quarterly values of one indicator for one organisation, with its XmR chart."""

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="trends")
    indicator = models.CharField(max_length=63)
    level = models.CharField(max_length=8, choices=Level.choices)
    organisation = models.CharField(max_length=9)
    points = models.JSONField(help_text="[{quarter, start, numerator, denominator, value, suppressed}]")
    xmr = models.JSONField(null=True, help_text="XmR chart (indicators.stats.spc), null with too few points")
    public = models.JSONField(
        null=True,
        blank=True,
        help_text="{points, xmr} as everyone but the audit's analysts sees them (indicators.disclosure.protect); "
        "null for England",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "indicator", "level", "organisation"], name="trend_series_unique")
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.organisation} trend"


class InequalityResult(models.Model):
    """One group of one inequality breakdown (deprivation, age band, sex, ethnicity) of an indicator, for England or
    a Cancer Alliance, in the indicator's headline period, from one run (indicators.compute.inequalities). The
    SII, its interval and the most-minus-least deprived gap belong to the (dimension, organisation): every group
    row of it carries them (deprivation only)."""

    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="inequalities")
    indicator = models.CharField(max_length=63)
    dimension = models.CharField(max_length=16)
    level = models.CharField(max_length=8, choices=Level.choices)
    organisation = models.CharField(max_length=9)
    period = models.CharField(max_length=64, help_text="The indicator's headline period (indicators.headline)")
    position = models.PositiveSmallIntegerField(help_text="The group's place in the dimension's order")
    group = models.CharField(max_length=63)
    numerator = models.IntegerField()
    denominator = models.IntegerField()
    value = models.FloatField(null=True, help_text="Proportion numerator / denominator (crude, for every kind)")
    ci_lower = models.FloatField(null=True)
    ci_upper = models.FloatField(null=True)
    sii = models.FloatField(null=True, help_text="Slope index of inequality (PHE phe_sii), deprivation only")
    sii_lower = models.FloatField(null=True)
    sii_upper = models.FloatField(null=True)
    gap = models.FloatField(null=True, help_text="Most deprived group's value minus the least deprived's")
    suppressed = models.BooleanField(default=False, help_text="Hidden from everyone but the audit's analysts")
    public = models.JSONField(
        null=True, blank=True, help_text="What everyone but the analysts sees of a shown alliance row; null for England"
    )

    class Meta:
        ordering = ["indicator", "dimension", "level", "organisation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "indicator", "dimension", "level", "organisation", "position"],
                name="inequality_result_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.dimension} {self.organisation} {self.group}"
