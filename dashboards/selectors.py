"""Reads for the pages: the run shown for each audit, its prebuilt pieces, and each page's data.

Reads only: nothing here writes. A run's pieces are built by :mod:`dashboards.services` (the task at the end of
the run, or the first visit after it: :class:`PiecesNotBuilt` tells the view). The trend and "is this flag
real?" panels are derived from the run's stored series and results when first asked for, and kept in this
process's memory: a run's results never change once it is shown (ADR 0003).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.db.models import Case, F, JSONField, Q, Value, When
from django.http import Http404
from django.urls import reverse

from accounts.roles import own_trusts, sees_unsuppressed
from audits.models import Alliance, ImportJob, Release, Trust
from audits.selectors import quality_by_trust
from dashboards.models import FigureSpec
from dashboards.pages import flag_check as check
from dashboards.pages.alliance import AllianceFunnel, AlliancePiece, AllianceSection, alliance_funnels_key, alliance_key
from dashboards.pages.alliance import with_own_rows as with_alliance_own_rows
from dashboards.pages.audit import AuditIndicator, AuditPiece, audit_key
from dashboards.pages.data_quality import DataQualityPage, ProviderCompleteness
from dashboards.pages.indicator import IndicatorPage, IndicatorPiece, indicator_key, with_own_rows
from dashboards.pages.model_card import ModelCard, UnfittedCard, card_key
from dashboards.pages.outliers import published_responses
from dashboards.pages.piece import decode
from dashboards.pages.plan import PlanEntry, PlanSection, ReadingText
from dashboards.pages.plan import trend_url as plan_trend_url
from dashboards.pages.run import BUILT, RESULT_FIELDS, format_result, headline_period
from dashboards.pages.trend import TrendPiece, build_trend, trend_key
from dashboards.pages.trust import OWN, TrustPage, TrustPiece, TrustSection, trust_key
from indicators.definitions import columns_used
from indicators.disclosure import publish_quality_by_trust, publish_results, suppression_policy
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import ComputationRun, IndicatorResult, RunIndicator, TrendSeries
from indicators.registry import indicators_for
from indicators.selectors import shown_runs as shown_runs  # the one rule for pages and API alike
from outliers import plans


def variant_for(user, audit_code: str) -> str:
    """Analysts of the audit see exact counts; everyone else (staff included) sees the suppressed ones."""
    return "analyst" if sees_unsuppressed(user, audit_code) else "public"


def sees_own(user, audit_code: str, trust: str) -> bool:
    """A reader of the public variant who sees ``trust``'s own rows exactly: a member of its team
    (``accounts.roles.sees_unsuppressed`` with the trust; never the alliance's or England's rows)."""
    return not sees_unsuppressed(user, audit_code) and sees_unsuppressed(user, audit_code, trust)


class PiecesNotBuilt(Exception):  # noqa: N818 - a state the view handles, not an error
    """Nobody has built these runs' pieces yet: the view builds them (dashboards.services) and reads again."""

    def __init__(self, runs: list[ComputationRun]) -> None:
        super().__init__(f"pieces of runs {[run.pk for run in runs]} not built")
        self.runs = runs


class _PieceCache:
    """Decoded pieces in this process, by a key that names an immutable value.

    A piece's row never changes (a rebuild deletes it and inserts a new row with a new id), so a
    page asks the database only which ids are current and decodes a piece once per process.
    Callers must not modify what they get.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, ids: list[Any]) -> dict[Any, Any]:
        with self.lock:
            found = {i: self.items[i] for i in ids if i in self.items}
            for i in found:
                self.items.move_to_end(i)
        return found

    def put(self, values: dict[Any, Any]) -> None:
        with self.lock:
            self.items.update(values)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def ids(self) -> list[Any]:
        with self.lock:
            return list(self.items)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


CACHE = _PieceCache(size=400)  # stored pieces, by FigureSpec id
DERIVED = _PieceCache(size=400)  # trend and flag-check panels, by (run id, when it was requested, key)


def pieces(wanted: dict[ComputationRun, dict[str, Any]]) -> dict[tuple[int, str], Any]:
    """The requested pieces of each run, each decoded as the type its key names (``{run: {key: type}}``).

    One query (a piece this process has decoded is not sent again), a second only for a piece evicted
    from the process's cache meanwhile. Raises
    :class:`PiecesNotBuilt` for runs whose pieces nobody has built yet.
    """
    if not wanted:
        return {}
    condition = Q()
    for run, keys in wanted.items():
        condition |= Q(run_id=run.pk, key__in=[*keys, BUILT])
    # One query: the current ids, and the data of those this process has not decoded yet.
    known = CACHE.ids()
    payload = (
        Case(When(pk__in=known, then=Value(None, output_field=JSONField())), default=F("data")) if known else F("data")
    )
    found = list(FigureSpec.objects.filter(condition).values_list("pk", "run_id", "key", payload))
    built = {run_id for _, run_id, key, _ in found if key == BUILT}
    missing = [run for run in wanted if run.pk not in built]
    if missing:
        raise PiecesNotBuilt(missing)
    types = {run.pk: keys for run, keys in wanted.items()}
    found = [row for row in found if row[2] != BUILT]
    rows = [(pk, run_id, key) for pk, run_id, key, _ in found]
    fresh = {pk: decode(types[run_id][key], data) for pk, run_id, key, data in found if data is not None}
    CACHE.put(fresh)
    cached = {**CACHE.get([pk for pk, _, _ in rows if pk not in fresh]), **fresh}
    absent = {pk: (run_id, key) for pk, run_id, key in rows if pk not in cached}
    if absent:  # evicted by another request since ``known`` was read
        loaded = {
            pk: decode(types[absent[pk][0]][absent[pk][1]], data)
            for pk, data in FigureSpec.objects.filter(pk__in=list(absent)).values_list("pk", "data")
        }
        CACHE.put(loaded)
        cached.update(loaded)
    return {(run_id, key): cached[pk] for pk, run_id, key in rows}


def _run(audit_code: str) -> ComputationRun:
    run = shown_runs().get(audit_code)
    if run is None:
        raise Http404("No results for this audit yet")
    return run


def _audit_piece(run: ComputationRun, variant: str) -> AuditPiece:
    return pieces({run: {audit_key(variant): AuditPiece}})[(run.pk, audit_key(variant))]


def _indicator(overview: AuditPiece, code: str) -> AuditIndicator:
    item = overview.indicator(code)
    if item is None:
        raise Http404("No such indicator")
    return item


# ------------------------------------------------------------------ pages


def audit_page(user, audit_code: str) -> tuple[ComputationRun, AuditPiece, str]:
    """The audit's shown run, its overview piece as ``user`` may see it, and that variant."""
    run = _run(audit_code)
    variant = variant_for(user, audit_code)
    return run, _audit_piece(run, variant), variant


def indicator_page(user, audit_code: str, code: str, period: str | None) -> IndicatorPage:
    """An indicator at ``period`` (None: its headline period), or why it has no results."""
    run, overview, variant = audit_page(user, audit_code)
    item = _indicator(overview, code)
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


def trust_page(user, trust: Trust) -> TrustPage:
    """Every shown audit's section of a trust's dashboard, by audit name."""
    runs = shown_runs()
    variants = {audit: OWN if sees_own(user, audit, trust.code) else variant_for(user, audit) for audit in runs}
    # The public piece too for a trust's team: a run built before own pieces were has none (fail closed).
    wanted = {
        run: {trust_key(trust.code, v): TrustPiece for v in {variants[audit], "public"}} for audit, run in runs.items()
    }
    found = pieces(wanted)
    sections = []
    for audit_code, run in sorted(runs.items(), key=lambda item: item[1].release.audit.name):
        piece = found.get((run.pk, trust_key(trust.code, variants[audit_code])))
        if piece is None and variants[audit_code] == OWN:
            piece = found.get((run.pk, trust_key(trust.code, "public")))
        if piece:
            sections.append(TrustSection(piece, analyst=variants[audit_code] == "analyst"))
    reviews = published_responses(trust.code, [run.release for run in runs.values()])
    return TrustPage(trust=trust, sections=sections, reviews=reviews)


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


def trend_page(
    user, level: str, organisation: str, audit_code: str, code: str
) -> tuple[AuditIndicator, TrendPiece, str]:
    """The indicator, its XmR chart for one organisation as ``user`` may see it, and that variant."""
    run, overview, variant = audit_page(user, audit_code)
    if level == PROVIDER and sees_own(user, audit_code, organisation):
        variant = OWN  # the trust's own quarters exact, as its analysts see them
    item = _indicator(overview, code)
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
    run = _run(audit_code)
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


def organisations() -> list[dict[str, str]]:
    """Every active trust and every alliance, for finding one by name or code."""
    trust_url = reverse("trust", args=["CODE"])
    alliance_url = reverse("alliance", args=["CODE"])
    items = [
        {"code": code, "name": name, "kind": "Trust", "url": trust_url.replace("CODE", code)}
        for code, name in Trust.objects.filter(active=True).values_list("code", "name")
    ]
    items += [
        {"code": code, "name": name, "kind": "Cancer Alliance", "url": alliance_url.replace("CODE", code)}
        for code, name in Alliance.objects.values_list("code", "name")
    ]
    return items


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
