"""Organisations, audits, releases of their extracts, and import jobs.

Patient rows live in one table per audit extract layout (see ingest/load.py),
keyed by release: a release and its rows never change after they are stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.roles import analyst_group_name


class Alliance(models.Model):
    code = models.CharField(max_length=9, primary_key=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Trust(models.Model):
    class Country(models.TextChoices):
        """Whose bank holidays the trust keeps (the outlier process's deadlines count working days)."""

        ENGLAND = "England", "England"
        WALES = "Wales", "Wales"

    code = models.CharField("ODS code", max_length=5, primary_key=True)
    name = models.CharField(max_length=200)
    alliance = models.ForeignKey(Alliance, on_delete=models.PROTECT, related_name="trusts")
    icb_code = models.CharField(max_length=5, blank=True)
    region = models.CharField(max_length=100, blank=True)
    # A trust missing from a newer seed file is kept (results refer to it) but marked inactive.
    active = models.BooleanField(default=True)
    country = models.CharField(max_length=7, choices=Country.choices, default=Country.ENGLAND)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class TrustSuccessor(models.Model):
    """A predecessor code whose patients count under a successor trust from a date."""

    predecessor_code = models.CharField(max_length=5, primary_key=True)
    successor = models.ForeignKey(Trust, on_delete=models.PROTECT, related_name="predecessors")
    effective_from = models.DateField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["predecessor_code"]

    def __str__(self) -> str:
        return f"{self.predecessor_code} -> {self.successor_id} from {self.effective_from}"


class TrustAlias(models.Model):
    """Another name people search a trust by (``audits/seed/aliases.csv``): a former name, its own or that of a
    trust merged into it, or a common short name."""

    class Kind(models.TextChoices):
        FORMER = "former", "Former name"
        COMMON = "common", "Common name"

    trust = models.ForeignKey(Trust, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=200)
    kind = models.CharField(max_length=6, choices=Kind.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["trust", "alias"]
        constraints = [models.UniqueConstraint(fields=["trust", "alias"], name="trust_alias_unique")]

    def __str__(self) -> str:
        return f"{self.alias} ({self.kind} name of {self.trust_id})"


class Audit(models.Model):
    """The database's record of an audit definition file (the file stays the source of truth)."""

    code = models.SlugField(primary_key=True, max_length=63)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=50)
    definition_sha = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def analyst_group_name(self) -> str:
        return analyst_group_name(self.code)


class ReleaseQuerySet(models.QuerySet):
    def accepted(self) -> ReleaseQuerySet:
        """Published releases: the ones the public pages, the API's results and downloads may show."""
        return self.filter(status=Release.Status.ACCEPTED)

    def drafts(self) -> ReleaseQuerySet:
        """Releases stored but not yet published (the audit's analysts review them first)."""
        return self.filter(status=Release.Status.DRAFT)

    def current(self, audit_code: str) -> Release | None:
        """The newest published release (a draft is never current; a withdrawn release no longer is)."""
        return self.accepted().filter(audit_id=audit_code).order_by("-version").first()


class Release(models.Model):
    """An accepted extract. It starts as a draft (the audit's analysts review its data quality and results) or is
    published at once, as its door chose; only published releases reach the public
    (``audits.services.publish_release``)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft, not published"
        ACCEPTED = "accepted", "Published"  # the value predates drafts: "accepted" means published
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Origin(models.TextChoices):
        WEB = "web", "Web upload"
        CLI = "cli", "Command line"
        API = "api", "API"

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="releases")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    extract_date = models.DateField(help_text="When the data were drawn; follow-up is measured to it.")
    period_start = models.DateField(null=True)
    period_end = models.DateField(null=True)
    origin = models.CharField(max_length=3, choices=Origin.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_name = models.CharField(max_length=150, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now)
    definition = models.JSONField(help_text="The audit definition the file was checked against.")
    definition_sha = models.CharField(max_length=64)
    storage_table = models.CharField(max_length=63)
    quality_report = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by_name = models.CharField(max_length=150, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    withdrawn_reason = models.TextField(blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["audit_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "version"], name="release_version_unique"),
            models.UniqueConstraint(fields=["audit", "sha256"], name="release_file_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.audit_id} release {self.version}"

    @property
    def is_withdrawn(self) -> bool:
        return self.status == self.Status.WITHDRAWN

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_published(self) -> bool:
        """Published and not withdrawn: its figures may reach everyone (a withdrawn release keeps its
        ``published_at``)."""
        return self.status == self.Status.ACCEPTED


class ImportJob(models.Model):
    """One upload through the web or API: its file, progress and result."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Checking and loading"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Refused"
        FAILED = "failed", "Failed"

    FINISHED = (Status.ACCEPTED, Status.REJECTED, Status.FAILED)

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="import_jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    extract_date = models.DateField()
    origin = models.CharField(max_length=3, choices=Release.Origin.choices)
    publish = models.BooleanField(default=False, help_text="Publish the release at once (otherwise: a draft)")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    release = models.ForeignKey(Release, null=True, on_delete=models.SET_NULL, related_name="import_jobs")
    result = models.JSONField(default=dict)
    failure = models.TextField(blank=True)
    # The lease (audits.leases): times a process started the job, when it was queued or last renewed, by whom.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running the job")

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.audit_id}, {self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent_done(self) -> int:
        if self.finished:
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(100 * self.bytes_done / self.bytes_total))
