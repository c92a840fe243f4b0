"""An audit's shown run, who sees which variant of it, its overview and an indicator's page."""

from __future__ import annotations

from django.http import Http404

from accounts.roles import own_trusts, sees_unsuppressed
from dashboards.pages.audit import AuditIndicator, AuditPiece, audit_key
from dashboards.pages.indicator import IndicatorPage, IndicatorPiece, indicator_key, with_own_rows
from dashboards.pages.model_card import ModelCard, UnfittedCard, card_key
from dashboards.pages.run import RESULT_FIELDS
from dashboards.selectors.cache import pieces
from indicators.disclosure import publish_results
from indicators.levels import PROVIDER
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


def audit_run(audit_code: str) -> ComputationRun:
    run = shown_runs().get(audit_code)
    if run is None:
        raise Http404("No results for this audit yet")
    return run


def _audit_piece(run: ComputationRun, variant: str) -> AuditPiece:
    return pieces({run: {audit_key(variant): AuditPiece}})[(run.pk, audit_key(variant))]


def indicator_item(overview: AuditPiece, code: str) -> AuditIndicator:
    item = overview.indicator(code)
    if item is None:
        raise Http404("No such indicator")
    return item


def audit_page(user, audit_code: str) -> tuple[ComputationRun, AuditPiece, str]:
    """The audit's shown run, its overview piece as ``user`` may see it, and that variant."""
    run = audit_run(audit_code)
    variant = variant_for(user, audit_code)
    return run, _audit_piece(run, variant), variant


def indicator_page(user, audit_code: str, code: str, period: str | None) -> IndicatorPage:
    """An indicator at ``period`` (None: its headline period), or why it has no results."""
    run, overview, variant = audit_page(user, audit_code)
    item = indicator_item(overview, code)
    kinds = {card_key(code): ModelCard | UnfittedCard}
    if not item.periods:
        card = pieces({run: kinds}).get((run.pk, card_key(code)))
        return IndicatorPage(run=run, item=item, variant=variant, period=None, piece=None, card=card)
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
    )


def _with_own_rows(run: ComputationRun, audit_code: str, piece: IndicatorPiece, own: frozenset[str]) -> IndicatorPiece:
    """The public piece with the reader's own trusts' rows exact (read from the run's results: a copy per request,
    so the cached piece every reader shares never holds them)."""
    definition = next(d for d in indicators_for(audit_code) if d.code == piece.code)
    rows = IndicatorResult.objects.filter(
        run=run, indicator=piece.code, period=piece.period, level=PROVIDER, organisation__in=sorted(own)
    ).values(*RESULT_FIELDS)
    return with_own_rows(piece, publish_results(list(rows), unsuppressed=False, exact_trusts=own), definition)
