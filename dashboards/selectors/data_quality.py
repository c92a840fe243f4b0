"""An audit's data-quality page: releases, runs, imports and the current release's completeness."""

from __future__ import annotations

from audits.models import ImportJob, Release, Trust
from audits.selectors import quality_by_trust
from dashboards.pages.data_quality import DataQualityPage, ProviderCompleteness
from indicators.disclosure import publish_quality_by_trust, suppression_policy
from indicators.models import ComputationRun, RunIndicator


def data_quality_page(user, audit_code: str) -> DataQualityPage:
    """The audit's releases, latest runs and imports, and the current release's completeness (by trust as
    ``user`` may see it: :func:`audits.selectors.quality_by_trust` is the one answer; staff get none)."""
    releases = list(Release.objects.filter(audit_id=audit_code).order_by("-version"))
    current = next((r for r in releases if not r.is_withdrawn), None)
    runs = list(
        ComputationRun.objects.filter(release__audit_id=audit_code)
        .select_related("release")
        .order_by("-requested_at", "-pk")[:10]
    )
    entries: dict[int, list[RunIndicator]] = {}
    for entry in RunIndicator.objects.filter(run__in=runs).only("run_id", "indicator", "status", "failure", "attempts"):
        entries.setdefault(entry.run_id, []).append(entry)
    jobs = list(ImportJob.objects.filter(audit_id=audit_code).select_related("release", "submitted_by")[:10])
    quality = (current.quality_report if current else None) or {}
    names = dict(Trust.objects.values_list("code", "name"))
    optional = quality.get("optional_columns", [])
    by_trust = quality_by_trust(user, current) if current else None
    exact = by_trust is not None and by_trust.exact
    published = publish_quality_by_trust(by_trust.providers, unsuppressed=exact) if by_trust else []
    marker = suppression_policy().marker
    providers = sorted(
        (
            ProviderCompleteness(
                code=p["provider_code"],
                name=names.get(p["provider_code"], p["provider_code"]),
                rows=marker if p["rows"] is None else p["rows"],
                cells=[p["percent_complete"].get(c) for c in optional],
            )
            for p in published
        ),
        key=lambda p: p.name.lower(),
    )
    return DataQualityPage(
        releases=releases,
        current=current,
        runs=runs,
        entries=entries,
        jobs=jobs,
        quality=quality,
        providers=providers,
        exact=exact,
        by_trust_shown=by_trust is not None,
    )
