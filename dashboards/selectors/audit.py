"""An audit's shown run, who sees which variant of it, its overview and an indicator's page."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from accounts.roles import own_trusts, sees_unsuppressed
from audits.models import Alliance, Trust
from dashboards.pages.audit import DIRECTION_TEXT, AuditIndicator, AuditPiece, audit_key
from dashboards.pages.false_discoveries import FalseDiscoveryPage, build_false_discoveries
from dashboards.pages.indicator import IndicatorPage, IndicatorPiece, indicator_key, with_own_rows
from dashboards.pages.model_card import ModelCard, UnfittedCard, card_key
from dashboards.pages.run import RESULT_FIELDS
from dashboards.selectors.cache import pieces
from indicators.disclosure import publish_results
from indicators.headline import headline_key
from indicators.levels import ALLIANCE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult
from indicators.registry import indicators_for
from indicators.selectors import shown_runs


def variant_for(user, audit_code: str) -> str:
    """Analysts of the audit see exact counts; everyone else (staff included) sees the suppressed ones."""
    return "analyst" if sees_unsuppressed(user, audit_code) else "public"


def sees_own(user, audit_code: str, trust: str) -> bool:
    """A reader of the public variant who sees ``trust``'s own rows exactly: a member of its team
    (``accounts.roles.sees_unsuppressed`` with the trust; never the alliance's or England's rows)."""
    return not sees_unsuppressed(user, audit_code) and sees_unsuppressed(user, audit_code, trust)


class NoRelease(Http404):
    """The audit has no run shown yet (no release published and computed): a 404 unless a page says so itself."""


def audit_run(audit_code: str) -> ComputationRun:
    run = shown_runs().get(audit_code)
    if run is None:
        raise NoRelease("No results for this audit yet")
    return run


def _audit_piece(run: ComputationRun, variant: str) -> AuditPiece:
    return pieces({run: {audit_key(variant): AuditPiece}})[(run.pk, audit_key(variant))]


def indicator_item(overview: AuditPiece, code: str) -> AuditIndicator:
    item = overview.indicator(code)
    if item is None:
        raise Http404("No such indicator")
    return item


def under_review(audit_code: str) -> set[str]:
    """The codes of the audit's indicators whose definitions are unverified (``review.status``), as deployed now."""
    return {definition.code for definition in indicators_for(audit_code) if definition.under_review}


def definitions_in_words(audit_code: str) -> list[dict[str, Any]]:
    """An audit with no results yet: each indicator's definition in words, and its review note when unverified."""
    return [
        {
            "code": d.code,
            "title": d.title,
            "description": d.description,
            "numerator_text": d.numerator_text,
            "denominator_text": d.denominator_text,
            "direction_text": DIRECTION_TEXT.get(d.direction, "Neither higher nor lower is better in itself"),
            "standard": (d.standard or {}).get("label", ""),
            "risk_adjusted": d.risk_adjusted,
            "under_review": d.under_review,
            "review_note": d.review_note,
        }
        for d in indicators_for(audit_code)
    ]


def audit_page(user, audit_code: str) -> tuple[ComputationRun, AuditPiece, str]:
    """The audit's shown run, its overview piece as ``user`` may see it, and that variant."""
    run = audit_run(audit_code)
    variant = variant_for(user, audit_code)
    return run, _audit_piece(run, variant), variant


def indicator_page(user, audit_code: str, code: str, period: str | None) -> IndicatorPage:
    """An indicator at ``period`` (None: its headline period), or why it has no results."""
    run, overview, variant = audit_page(user, audit_code)
    item = indicator_item(overview, code)
    definition = next((d for d in indicators_for(audit_code) if d.code == code), None)
    unverified = definition is not None and definition.under_review
    note = definition.review_note if definition is not None else ""
    kinds = {card_key(code): ModelCard | UnfittedCard}
    if not item.periods:
        card = pieces({run: kinds}).get((run.pk, card_key(code)))
        return IndicatorPage(
            run=run,
            item=item,
            variant=variant,
            period=None,
            piece=None,
            card=card,
            under_review=unverified,
            review_note=note,
        )
    period = period or item.headline
    if period not in item.periods:
        raise Http404("No results for that period")
    key = indicator_key(code, period, variant)
    found = pieces({run: {key: IndicatorPiece, **kinds}})
    piece = found[(run.pk, key)]
    own = own_trusts(user, audit_code) if variant == "public" else frozenset()
    if own & {row.organisation for row in piece.providers}:
        piece = _with_own_rows(run, audit_code, piece, own)
    return IndicatorPage(
        run=run,
        item=item,
        variant=variant,
        period=period,
        piece=piece,
        card=found.get((run.pk, card_key(code))),
        under_review=unverified,
        review_note=note,
    )


def _with_own_rows(run: ComputationRun, audit_code: str, piece: IndicatorPiece, own: frozenset[str]) -> IndicatorPiece:
    """The public piece with the reader's own trusts' rows exact (read from the run's results: a copy per request,
    so the cached piece every reader shares never holds them)."""
    definition = next(d for d in indicators_for(audit_code) if d.code == piece.code)
    rows = IndicatorResult.objects.filter(
        run=run, indicator=piece.code, period=piece.period, level=PROVIDER, organisation__in=sorted(own)
    ).values(*RESULT_FIELDS)
    return with_own_rows(piece, publish_results(list(rows), unsuppressed=False, exact_trusts=own), definition)


def false_discoveries_page(audit_code: str, code: str, level: str, period: str | None) -> FalseDiscoveryPage:
    """The false-discovery-rate view of an indicator's funnel at ``level`` and ``period`` (None: the headline
    period), from the shown run's exact results: for the audit's analysts only (the view checks the role)."""
    run = audit_run(audit_code)
    definition = next((d for d in indicators_for(audit_code) if d.code == code), None)
    if definition is None or level not in (PROVIDER, ALLIANCE):
        raise Http404("No such indicator or level")
    results = IndicatorResult.objects.filter(run=run, indicator=code)
    if period is None:
        national = results.filter(level=NATIONAL).values_list("period", "period_start", "period_end")
        period = max(national, key=lambda row: headline_key(row[1], row[2]), default=(None,))[0]
    rows: list[dict[str, Any]] = [
        dict(row) for row in results.filter(level=level, period=period).values("organisation", "value", "z", "flag")
    ]
    if period is None or not rows:
        raise Http404("No results for that period")
    model = Trust if level == PROVIDER else Alliance
    names = dict(model.objects.filter(code__in=[r["organisation"] for r in rows]).values_list("code", "name"))
    return build_false_discoveries(rows, level=level, period=period, names=names, direction=definition.direction)
