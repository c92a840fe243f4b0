"""Where to act first, for a Cancer Alliance: its indicators ordered by the number of patients whose outcome would
have been better had every trust of the alliance matched England's rate, with the member trusts that contribute
most. An opportunity view of indicators, not a league table of trusts.

The figures are the alliance's excess events at each indicator's headline period, worked out by the one function
that does it (:func:`dashboards.pages.flag_check.excess_events`, observed minus expected with its 95% interval)
from the results as published to the reader, then turned to the indicator's worse direction: for a "lower is
better" indicator the opportunity is O - E, for "higher is better" E - O. Indicators without a direction
(``no_judgement``) have no better outcome and are left out.

Disclosure: only results published to the reader are used, as the alliance and trust pages show them. A trust
whose row is hidden from the reader gives no figures (:func:`excess_events` gives none for a hidden row), so it is
never named; and no "other trusts" remainder is shown, so the alliance's figure less the named trusts' says
nothing about one trust in particular.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from audits.models import Trust
from dashboards import text
from dashboards.pages.flag_check import excess_events
from dashboards.pages.piece import CsvSchema, Piece, columns
from dashboards.pages.run import RESULT_FIELDS, headline_period
from dashboards.selectors import DERIVED, shown_runs, variant_for
from indicators.definitions import IndicatorDefinition
from indicators.disclosure import publish_results
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.models import IndicatorResult
from indicators.registry import indicators_for

#: The directions with a better outcome (an indicator with ``no_judgement`` has none).
WORSE_SIGN = {"lower_is_better": 1.0, "higher_is_better": -1.0}
#: How many of the member trusts are named for each indicator.
TOP_TRUSTS = 3


def act_first_key(code: str, variant: str) -> str:
    return f"act-first:{code}:{variant}"


@dataclass(kw_only=True)
class Contributor(Piece):
    """A member trust's own opportunity on one indicator (its excess events in the worse direction)."""

    code: str
    name: str
    excess: float
    lower: float | None
    upper: float | None

    @property
    def excess_text(self) -> str:
        return text.signed_events(self.excess)

    @property
    def interval_text(self) -> str:
        return _interval_text(self.lower, self.upper)


@dataclass(kw_only=True)
class Opportunity(Piece):
    """One indicator of one audit: the patients of the alliance who would have had a better outcome had every
    trust matched England (None: not shown to this reader), and the member trusts that contribute most."""

    audit: str
    short_name: str
    code: str
    title: str
    direction: str
    period: str
    release: int
    extract_date: str
    excess: float | None
    lower: float | None
    upper: float | None
    contributors: list[Contributor]
    sentence: str

    @property
    def excess_text(self) -> str:
        return text.signed_events(self.excess)

    @property
    def interval_text(self) -> str:
        return _interval_text(self.lower, self.upper)

    @property
    def direction_text(self) -> str:
        return "lower is better" if self.direction == "lower_is_better" else "higher is better"


@dataclass(kw_only=True)
class ActFirst(Piece):
    """An alliance's opportunities across the shown audits, largest first."""

    alliance: str
    alliance_name: str
    items: list[Opportunity]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


#: ``?download=opportunities``: one indicator a row, one value a column.
OPPORTUNITIES_CSV: CsvSchema[Opportunity] = columns(
    ("audit", lambda o: o.audit),
    ("indicator_code", lambda o: o.code),
    ("indicator", lambda o: o.title),
    ("excess", lambda o: _rounded(o.excess)),
    ("lower", lambda o: _rounded(o.lower)),
    ("upper", lambda o: _rounded(o.upper)),
    ("direction", lambda o: o.direction),
    ("period", lambda o: o.period),
    ("release", lambda o: o.release),
)

#: ``?download=trusts``: the named trusts, one trust and indicator a row.
CONTRIBUTORS_CSV: CsvSchema[tuple[Opportunity, Contributor]] = columns(
    ("audit", lambda pair: pair[0].audit),
    ("indicator_code", lambda pair: pair[0].code),
    ("indicator", lambda pair: pair[0].title),
    ("trust_code", lambda pair: pair[1].code),
    ("trust", lambda pair: pair[1].name),
    ("excess", lambda pair: _rounded(pair[1].excess)),
    ("lower", lambda pair: _rounded(pair[1].lower)),
    ("upper", lambda pair: _rounded(pair[1].upper)),
    ("direction", lambda pair: pair[0].direction),
    ("period", lambda pair: pair[0].period),
    ("release", lambda pair: pair[0].release),
)


def contributor_rows(items: Iterable[Opportunity]) -> list[tuple[Opportunity, Contributor]]:
    return [(item, trust) for item in items for trust in item.contributors]


# ------------------------------------------------------------------ the arithmetic and the words


def opportunity(
    row: dict[str, Any] | None, definition: IndicatorDefinition
) -> tuple[float | None, float | None, float | None]:
    """Patients who would have had a better outcome had ``row``'s organisation matched England, with its 95%
    interval: observed minus expected events (:func:`excess_events`) in the indicator's worse direction."""
    sign = WORSE_SIGN[definition.direction]
    excess, lower, upper = excess_events(row, definition)
    if excess is None:
        return None, None, None
    if lower is None or upper is None:
        return sign * excess, None, None
    low, high = sorted((sign * lower, sign * upper))
    return sign * excess, low, high


def _interval_text(lower: float | None, upper: float | None) -> str:
    if lower is None or upper is None:
        return "-"
    return f"{text.signed_events(lower)} to {text.signed_events(upper)}"


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def opportunity_sentence(
    *,
    definition: IndicatorDefinition,
    excess: float | None,
    lower: float | None,
    upper: float | None,
    contributors: list[Contributor],
) -> str:
    """The opportunity in plain words: how many patients, its interval, and where most of it is."""
    if excess is None:
        return "The alliance's result is not shown because of small numbers, so neither is this figure."
    what = definition.numerator_text.strip() or f"patients counted in '{definition.title}'"
    more = "fewer" if definition.direction == "lower_is_better" else "more"
    if excess < 0.05:
        return (
            "The alliance's trusts together did at least as well as England's rate would give "
            f"({text.signed_events(-excess)} {what} against expected): matching England would not have given a "
            "better outcome to more patients."
        )
    interval = "" if lower is None or upper is None else f" (95% interval {_interval_text(lower, upper)})"
    sentence = (
        "If every trust in the alliance had matched England's rate, there would have been about "
        f"{excess:,.1f} {more} {what}{interval}"
    )
    if contributors:
        named = sum(c.excess for c in contributors)
        where = "most of the difference is at" if named >= excess / 2 else "the largest contributions are at"
        sentence += f"; {where} {_names([c.name for c in contributors])}"
    sentence += "."
    if lower is not None and upper is not None and lower <= 0:
        sentence += " The interval includes no difference at all, so chance alone could explain it."
    return sentence


# ------------------------------------------------------------------ building


@dataclass(frozen=True)
class AuditRows:
    """One audit's shown run as the builder needs it: its release, its indicators, and its results (as published
    to the reader) of England, the alliance and its member trusts."""

    audit: str
    short_name: str
    release: int
    extract_date: str
    definitions: list[IndicatorDefinition]
    rows: list[dict[str, Any]]


def build_act_first(*, alliance: str, alliance_name: str, members: dict[str, str], audits: list[AuditRows]) -> ActFirst:
    """The alliance's opportunities, largest first (not shown ones last), from published results. Pure.

    ``members`` maps the alliance's trusts' codes to their names; ``audits`` gives each audit's rows as published
    to the reader (:func:`indicators.disclosure.publish_results`)."""
    items = []
    for audit in audits:
        index: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        for row in audit.rows:
            index.setdefault((row["indicator"], row["level"], row["period"]), {})[row["organisation"]] = row
        periods: dict[str, set[str]] = {}
        for code, level, label in index:
            if level == NATIONAL:
                periods.setdefault(code, set()).add(label)
        for definition in audit.definitions:
            if definition.direction not in WORSE_SIGN:
                continue
            headline = headline_period(sorted(periods.get(definition.code, ())), index, definition.code)
            if headline is None:
                continue
            period = headline
            own = index.get((definition.code, ALLIANCE, period), {}).get(alliance)
            if own is None:
                continue
            excess, lower, upper = opportunity(own, definition)
            trusts = index.get((definition.code, PROVIDER, period), {})
            found = []
            for trust, row in trusts.items():
                if trust not in members:
                    continue
                value, low, high = opportunity(row, definition)  # None for a row hidden from the reader
                if value is not None and value >= 0.05:
                    found.append(Contributor(code=trust, name=members[trust], excess=value, lower=low, upper=high))
            found.sort(key=lambda c: (-c.excess, c.name))
            top = found[:TOP_TRUSTS]
            items.append(
                Opportunity(
                    audit=audit.audit,
                    short_name=audit.short_name,
                    code=definition.code,
                    title=definition.title,
                    direction=definition.direction,
                    period=period,
                    release=audit.release,
                    extract_date=audit.extract_date,
                    excess=excess,
                    lower=lower,
                    upper=upper,
                    contributors=top,
                    sentence=opportunity_sentence(
                        definition=definition, excess=excess, lower=lower, upper=upper, contributors=top
                    ),
                )
            )
    items.sort(key=lambda o: (o.excess is None, -(o.excess or 0.0), o.short_name, o.title))
    return ActFirst(alliance=alliance, alliance_name=alliance_name, items=items)


# ------------------------------------------------------------------ reading


def act_first_page(user, alliance) -> ActFirst:
    """The page of ``alliance`` (an :class:`audits.models.Alliance`) as ``user`` may see it, across the shown
    audits: derived from the shown runs' stored results when first asked for, and kept as the trend panels are."""
    runs = sorted(shown_runs().items(), key=lambda item: item[1].release.audit.name)
    variants = {audit: variant_for(user, audit) for audit, _ in runs}
    key = (
        "act-first",
        alliance.code,
        tuple((run.pk, run.requested_at, variants[audit]) for audit, run in runs),
    )
    found = DERIVED.get([key]).get(key)
    if found is not None:
        return found
    members = dict(Trust.objects.filter(alliance_id=alliance.code).values_list("code", "name"))
    audits = []
    for audit, run in runs:
        rows = list(
            IndicatorResult.objects.filter(
                run=run,
                level__in=[PROVIDER, ALLIANCE, NATIONAL],
                organisation__in=[alliance.code, ENGLAND_CODE, *members],
            ).values(*RESULT_FIELDS)
        )
        release = run.release
        audits.append(
            AuditRows(
                audit=audit,
                short_name=release.audit.short_name,
                release=release.version,
                extract_date=release.extract_date.isoformat(),
                definitions=list(indicators_for(audit)),
                rows=publish_results(rows, unsuppressed=variants[audit] == "analyst"),
            )
        )
    page = build_act_first(alliance=alliance.code, alliance_name=alliance.name, members=members, audits=audits)
    DERIVED.put({key: page})
    return page
