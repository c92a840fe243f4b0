"""The panels derived from a run's stored series and results when first asked for: an organisation's trend
and a trust's "is this flag real?" (kept in :data:`dashboards.selectors.cache.DERIVED`)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from audits.selectors import quality_by_trust
from dashboards.pages import flag_check as check
from dashboards.pages.audit import AuditIndicator
from dashboards.pages.run import RESULT_FIELDS, headline_period
from dashboards.pages.trend import TrendPiece, build_trend, trend_key
from dashboards.pages.trust import OWN
from dashboards.selectors.audit import audit_page, audit_run, indicator_item, sees_own, variant_for
from dashboards.selectors.cache import DERIVED
from indicators.definitions import columns_used
from indicators.disclosure import publish_quality_by_trust, publish_results
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for


def trend_page(
    user, level: str, organisation: str, audit_code: str, code: str
) -> tuple[AuditIndicator, TrendPiece, str]:
    """The indicator, its XmR chart for one organisation as ``user`` may see it, and that variant."""
    run, overview, variant = audit_page(user, audit_code)
    if level == PROVIDER and sees_own(user, audit_code, organisation):
        variant = OWN  # the trust's own quarters exact, as its analysts see them
    item = indicator_item(overview, code)
    key = (
        run.pk,
        run.requested_at,
        trend_key(level, organisation, code, variant),
    )  # an id reused after a restore is another run
    data = DERIVED.get([key]).get(key)
    if data is None:
        definition = next((d for d in indicators_for(audit_code) if d.code == code), None)
        series = (
            TrendSeries.objects.filter(run=run, indicator=code, level=level, organisation=organisation)
            .values("points", "xmr", "public")
            .first()
        )
        if definition is not None and series is not None:
            built_as = "analyst" if variant == OWN else variant  # the series holds one organisation's quarters only
            data = build_trend(
                definition=definition, level=level, organisation=organisation, series=series, variant=built_as
            )
        if data is not None:
            DERIVED.put({key: data})
    if data is None:
        raise Http404("No trend for this organisation and indicator")
    return item, data, variant


def flag_check_page(user, trust: str, audit_definition, code: str) -> tuple[check.FlagCheck, list, bool, str]:
    """A trust's "is this flag real?" panel as ``user`` may see it, the completeness of the fields behind it (of
    the trust only for those who may see completeness by trust), whether that is shown, and the variant."""
    audit_code = audit_definition.code
    run = audit_run(audit_code)
    variant = OWN if sees_own(user, audit_code, trust) else variant_for(user, audit_code)
    key = (run.pk, run.requested_at, check.check_key(trust, code, variant))
    data = DERIVED.get([key]).get(key)
    if data is None:
        # The panel reads the trust's own rows and quarters and England's only: its team's is the analysts' one.
        data = _flag_check(run, trust, code, "analyst" if variant == OWN else variant)
        if data is not None:
            DERIVED.put({key: data})
    if data is None:
        raise Http404("No result for this trust and indicator")
    definition = next(i for i in indicators_for(audit_code) if i.code == code)
    release = run.release
    by_trust = quality_by_trust(user, release)
    trust_percent = None
    if by_trust is not None:
        published = publish_quality_by_trust(by_trust.providers, unsuppressed=by_trust.exact)
        row = next((p for p in published if p["provider_code"] == trust), None)
        trust_percent = row["percent_complete"] if row else None
    completeness = check.completeness_rows(
        columns=[c for c in columns_used(definition, audit_definition) if c != audit_definition.provider],
        covariates=data.covariates or [],
        quality=release.quality_report or {},
        trust_percent=trust_percent,
        model_completeness=data.model_completeness or {},
    )
    return data, completeness, trust_percent is not None, variant


def _flag_check(run: ComputationRun, trust: str, code: str, variant: str) -> check.FlagCheck | None:
    """The panel of a trust's result, from the run's stored results, series and model card."""
    definition = next((d for d in indicators_for(run.release.audit_id) if d.code == code), None)
    if definition is None:
        return None
    rows = list(
        IndicatorResult.objects.filter(run=run, indicator=code, organisation__in=[trust, ENGLAND_CODE]).values(
            *RESULT_FIELDS
        )
    )
    if not any(r["organisation"] == trust and r["level"] == PROVIDER for r in rows):
        return None
    published = publish_results(rows, unsuppressed=variant == "analyst")
    trust_rows = {r["period"]: r for r in published if r["level"] == PROVIDER and r["organisation"] == trust}
    national_rows = {r["period"]: r for r in published if r["level"] == NATIONAL}
    headline = headline_period(
        sorted(national_rows), {(code, NATIONAL, p): {ENGLAND_CODE: r} for p, r in national_rows.items()}, code
    )
    if headline is None or headline not in trust_rows:
        return None
    series = (
        TrendSeries.objects.filter(run=run, indicator=code, level=PROVIDER, organisation=trust)
        .values_list("points", "public")
        .first()
    )
    card = RunIndicator.objects.filter(run=run, indicator=code).values_list("model_card", flat=True).first() or {}
    caveats = (card.get("caveats") or {}).get(trust) if isinstance(card.get("caveats"), dict) else None
    if isinstance(caveats, str):
        caveats = [caveats]
    data = check.flag_check(
        definition=definition,
        trust_rows=trust_rows,
        national_rows=national_rows,
        headline=headline,
        trend=series,
        variant=variant,
        caveats=[str(c) for c in caveats or []],
    )
    data.covariates = [c["column"] for c in (definition.risk_model or {}).get("covariates", [])]
    # Completeness of each covariate among the trust's patients in the model (model card), for those who may see
    # completeness by trust (the view decides who).
    completeness: dict[str, Any] = card["completeness"] if isinstance(card.get("completeness"), dict) else {}
    data.model_completeness = {
        "trust": (completeness.get("by_group") or {}).get(trust) or {},
        "england": completeness.get("national") or {},
    }
    return data
