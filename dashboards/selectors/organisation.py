"""A trust's and an alliance's pages, and their improvement plan (finding one by name or code: :mod:`.search`)."""

from __future__ import annotations

from typing import Any

from accounts.roles import own_trusts
from audits.models import Alliance, Trust
from dashboards.pages.alliance import AllianceFunnel, AlliancePiece, AllianceSection, alliance_funnels_key, alliance_key
from dashboards.pages.alliance import with_own_rows as with_alliance_own_rows
from dashboards.pages.outliers import published_responses
from dashboards.pages.plan import PlanEntry, PlanSection, ReadingText
from dashboards.pages.plan import trend_url as plan_trend_url
from dashboards.pages.run import RESULT_FIELDS, format_result
from dashboards.pages.trust import OWN, AbsentAudit, TrustPage, TrustPiece, TrustSection, trust_key
from dashboards.selectors.audit import sees_own, variant_for
from dashboards.selectors.cache import pieces
from indicators.disclosure import publish_results
from indicators.levels import PROVIDER
from indicators.models import ComputationRun, IndicatorResult
from indicators.registry import indicators_for
from indicators.selectors import shown_runs
from outliers import plans


def trust_page(user, trust: Trust) -> TrustPage:
    """Every shown audit's section of a trust's dashboard, by audit name."""
    runs = shown_runs()
    variants = {audit: OWN if sees_own(user, audit, trust.code) else variant_for(user, audit) for audit in runs}
    # The public piece too for a trust's team: a run built before own pieces were has none (fail closed).
    wanted = {
        run: {trust_key(trust.code, v): TrustPiece for v in {variants[audit], "public"}} for audit, run in runs.items()
    }
    found = pieces(wanted)
    sections, absent = [], []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        piece = found.get((run.pk, trust_key(trust.code, variants[audit_code])))
        if piece is None and variants[audit_code] == OWN:
            piece = found.get((run.pk, trust_key(trust.code, "public")))
        if piece:
            sections.append(TrustSection(piece, analyst=variants[audit_code] == "analyst"))
        else:  # the run has no results of this trust: the page says so, with a link to the audit
            absent.append(AbsentAudit(audit_code, run.release.audit.name, run.release.version))
    reviews = published_responses(trust.code, [run.release for run in runs.values()])
    return TrustPage(trust=trust, sections=sections, reviews=reviews, absent=absent)


def alliance_page(user, code: str) -> list[AllianceSection]:
    """Every shown audit's section of an alliance's page, by audit name."""
    runs = shown_runs()
    variants = {audit: variant_for(user, audit) for audit in runs}
    wanted = {
        run: {
            alliance_key(code, variants[a]): AlliancePiece,
            alliance_funnels_key(variants[a]): dict[str, AllianceFunnel],
        }
        for a, run in runs.items()
    }
    found = pieces(wanted)
    sections = []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        piece = found.get((run.pk, alliance_key(code, variants[audit_code])))
        own = own_trusts(user, audit_code) if variants[audit_code] == "public" else frozenset()
        if piece and own & {row.code for row in piece.grid}:
            piece = _alliance_with_own_rows(run, audit_code, code, piece, own)
        if piece:
            funnels = found.get((run.pk, alliance_funnels_key(variants[audit_code]))) or {}
            sections.append(AllianceSection(piece, funnels, analyst=variants[audit_code] == "analyst"))
    return sections


def _alliance_with_own_rows(
    run: ComputationRun, audit_code: str, code: str, piece: AlliancePiece, own: frozenset[str]
) -> AlliancePiece:
    """The public alliance piece with the reader's own trusts' grid rows exact (a copy per request)."""
    definitions = {d.code: d for d in indicators_for(audit_code)}
    periods = {item.code: item.period for item in piece.indicators}
    trusts = sorted(own & {row.code for row in piece.grid})
    rows = IndicatorResult.objects.filter(
        run=run, indicator__in=list(periods), level=PROVIDER, organisation__in=trusts
    ).values(*RESULT_FIELDS)
    exact: dict[str, dict[str, Any]] = {trust: {} for trust in trusts}
    for row in publish_results(list(rows), unsuppressed=False, exact_trusts=own):
        if periods.get(row["indicator"]) == row["period"]:
            exact[row["organisation"]][row["indicator"]] = format_result(row, definitions[row["indicator"]])
    name = Alliance.objects.filter(code=code).values_list("name", flat=True).first() or code
    return with_alliance_own_rows(piece, exact, code, name)


def plan_section(user, trusts: list[Trust]) -> PlanSection:
    """The "Improvement plan" of these trusts (of one trust's page, or an alliance's) as ``user`` may keep it:
    the trusts and audits the user may add actions for, and every action the user may see, before and after."""
    runs = shown_runs()
    audits = sorted(runs.items(), key=lambda item: item[1].release.audit.name)
    allowed = {
        (t.code, code) for t in trusts for code, _ in audits if plans.may_plan(user, code, t.code, t.alliance_id)
    }
    titles = {code: {d.code: d.title for d in indicators_for(code)} for code, _ in audits}
    section = PlanSection(
        trusts=[(t.code, t.name) for t in trusts if any(t.code == c for c, _ in allowed)],
        audits=[
            {"code": code, "name": run.release.audit.name, "indicators": list(titles[code].items())}
            for code, run in audits
            if any(a == code for _, a in allowed)
        ],
    )
    names = {t.code: t.name for t in trusts}
    directions = {code: {d.code: d.direction for d in indicators_for(code)} for code, _ in audits}
    for action in plans.actions_for(user, {t.code: t.alliance_id for t in trusts}, [code for code, _ in audits]):
        before, after = plans.before_after(action, user)
        direction = directions[action.audit_id].get(action.indicator, "no_judgement")
        section.entries.append(
            PlanEntry(
                action=action,
                trust_name=names[action.organisation],
                indicator_title=titles[action.audit_id].get(action.indicator, action.indicator),
                before=ReadingText.of(before, direction),
                after=ReadingText.of(after, direction),
                trend_url=plan_trend_url(action),
            )
        )
    return section
