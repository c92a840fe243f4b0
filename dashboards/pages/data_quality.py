"""The data-quality page of an audit, for its analysts: completeness by column and by trust of the newest
release not withdrawn (a draft under review, or the current published one), the release history, imports and
computation runs (read from what the import and the runs stored; nothing is computed here), and its CSVs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audits.models import ImportJob, Release
from dashboards import figures
from dashboards.pages.piece import CsvSchema, columns
from indicators.models import ComputationRun, RunIndicator


@dataclass(frozen=True)
class ProviderCompleteness:
    """A trust's row of completeness by trust, as this reader may see it."""

    code: str
    name: str
    rows: Any  # a count, or the suppression marker
    cells: list[Any]  # percent complete of each optional column


@dataclass
class DataQualityPage:
    releases: list[Release]
    current: Release | None
    runs: list[ComputationRun]
    entries: dict[int, list[RunIndicator]]
    jobs: list[ImportJob]
    quality: dict[str, Any]
    providers: list[ProviderCompleteness]
    exact: bool
    by_trust_shown: bool

    @property
    def optional(self) -> list[str]:
        return self.quality.get("optional_columns", [])

    @property
    def busy(self) -> bool:
        running = (ComputationRun.Status.QUEUED, ComputationRun.Status.RUNNING)
        return any(r.status in running for r in self.runs) or any(not j.finished for j in self.jobs)

    @property
    def published(self) -> Release | None:
        """The newest published release: the one the public pages show (``current`` may be a newer draft)."""
        return next((r for r in self.releases if r.is_published), None)

    def context(self) -> dict[str, Any]:
        return {
            "releases": self.releases,
            "current": self.current,
            "published": self.published,
            "quality": self.quality,
            "optional": self.optional,
            "providers": self.providers,
            "jobs": self.jobs,
            "busy": self.busy,
            "exact": self.exact,
            "by_trust_shown": self.by_trust_shown,
            "runs": [
                {"run": r, "entries": sorted(self.entries.get(r.pk, []), key=lambda e: e.indicator)} for r in self.runs
            ],
            "figure": figures.completeness_figure(self.quality["columns"]) if self.quality.get("columns") else None,
        }


#: ``?download=columns``: completeness of each column of the current release.
COLUMNS_CSV: CsvSchema[dict[str, Any]] = columns(
    ("column", lambda c: c["column"]),
    ("required", lambda c: c["required"]),
    ("filled", lambda c: c["filled"]),
    ("missing", lambda c: c["missing"]),
    ("percent_complete", lambda c: c["percent_complete"]),
)


def trusts_csv(optional: list[str]) -> CsvSchema[ProviderCompleteness]:
    """``?download=trusts``: completeness of each optional column by trust."""
    return columns(
        ("trust_code", lambda p: p.code),
        ("trust", lambda p: p.name),
        ("rows", lambda p: p.rows),
        *((column, lambda p, i=i: p.cells[i]) for i, column in enumerate(optional)),
    )


def releases_csv(current: Release | None) -> CsvSchema[Release]:
    """``?download=releases``: every release of the audit (``current``: the one the page reports on, the newest
    not withdrawn; ``status`` says whether it is a draft)."""
    return columns(
        ("version", lambda r: r.version),
        ("status", lambda r: r.status),
        ("current", lambda r: r == current),
        ("rows", lambda r: r.rows),
        ("period_start", lambda r: r.period_start),
        ("period_end", lambda r: r.period_end),
        ("extract_date", lambda r: r.extract_date),
        ("file_name", lambda r: r.file_name),
        ("sha256", lambda r: r.sha256),
        ("uploaded_at", lambda r: r.uploaded_at.isoformat()),
        ("uploaded_by", lambda r: r.uploaded_by_name),
        ("origin", lambda r: r.origin),
        ("withdrawn_reason", lambda r: r.withdrawn_reason),
        ("published_at", lambda r: r.published_at.isoformat() if r.published_at else ""),
        ("published_by", lambda r: r.published_by_name),
    )


#: ``?download=uploads``: the latest imports.
UPLOADS_CSV: CsvSchema[ImportJob] = columns(
    ("import", lambda j: j.pk),
    ("file_name", lambda j: j.file_name),
    ("status", lambda j: j.status),
    ("percent_done", lambda j: j.percent_done),
    ("release", lambda j: j.release.version if j.release else ""),
    ("submitted_at", lambda j: j.submitted_at.isoformat()),
    ("submitted_by", lambda j: j.submitted_by.get_username() if j.submitted_by else ""),
)
#: ``?download=runs``: the latest computation runs.
RUNS_CSV: CsvSchema[ComputationRun] = columns(
    ("run", lambda r: r.pk),
    ("release", lambda r: r.release.version),
    ("status", lambda r: r.status),
    ("shown", lambda r: r.is_current),
    ("completed", lambda r: r.completed),
    ("total", lambda r: r.total),
    ("requested_at", lambda r: r.requested_at.isoformat()),
    ("finished_at", lambda r: r.finished_at.isoformat() if r.finished_at else ""),
    ("failure", lambda r: r.failure),
)
