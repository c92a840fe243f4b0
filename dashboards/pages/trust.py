"""The trust dashboard: one piece per run, trust and variant (a card per indicator), and its CSV."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from accounts.roles import trust_teams_see_own_figures
from dashboards import figures, text
from dashboards.pages.piece import UNSTORED, CsvSchema, Piece, columns, interval_columns
from dashboards.pages.run import RunContext, count_phrase, kind_of, result_sentence, unavailable_reason
from dashboards.pages.trust_html import section_html
from indicators.disclosure import publish_trend
from indicators.kinds import Kind
from indicators.levels import ALLIANCE, ENGLAND_CODE, NATIONAL, PROVIDER

if TYPE_CHECKING:
    from dashboards.pages.outliers import PublishedResponse

#: The variant of a trust's own team (``accounts.roles.own_trusts``): the trust's own figures exact, every other
#: figure on its page (alliance, England, the spread across trusts) as the public sees it.
OWN = "own"


def trust_key(code: str, variant: str) -> str:
    return f"trust:{code}:{variant}"


@dataclass(kw_only=True)
class TrustCard(Piece):
    """One indicator of a trust, in words and numbers, with England and its alliance beside it."""

    code: str
    title: str
    period: str
    direction: str
    kind: Kind
    value_text: str
    ci_text: str
    ratio_text: str
    counts: str
    england_text: str
    alliance_text: str
    flag: str
    meaning: str
    label: str
    colour: str
    compared: bool
    shown: bool
    sentence: str
    spine: dict[str, Any] | None = field(default=None, metadata=UNSTORED)  # drawn into the piece's HTML
    spine_text: str
    spark: dict[str, Any] | None = field(default=None, metadata=UNSTORED)  # drawn into the piece's HTML
    spark_text: str
    has_trend: bool
    prompt: str | None
    recommendation: str | None
    standard: str


@dataclass(kw_only=True)
class Unavailable(Piece):
    """An indicator of the run without results, and why."""

    code: str
    title: str
    reason: str


@dataclass(kw_only=True)
class TrustPiece(Piece):
    """A trust's cards for one audit, and the table they make, rendered once."""

    audit: str
    audit_name: str
    short_name: str
    release: int
    extract_date: str
    cards: list[TrustCard]
    compared: int
    unavailable: list[Unavailable]
    html: str = ""


#: ``?download=<audit>`` of the trust dashboard.
TRUST_CSV: CsvSchema[TrustCard] = columns(
    ("indicator", lambda c: c.title),
    ("period", lambda c: c.period),
    ("value", lambda c: c.value_text),
    *interval_columns("value_95", lambda c: c.ci_text),
    ("counts", lambda c: c.counts),
    ("cancer_alliance", lambda c: c.alliance_text),
    ("england", lambda c: c.england_text),
    ("compared_with_expected", lambda c: c.label),
    ("sentence", lambda c: c.sentence),
)


@dataclass(frozen=True)
class TrustSection:
    """One audit's piece on the page, whether this reader sees it exactly, and its results reviewed with the
    trust whose response is published (read per request: a case is published between runs)."""

    piece: TrustPiece
    analyst: bool
    reviews: tuple[PublishedResponse, ...] = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.piece, name)


@dataclass(frozen=True)
class Prompt:
    """A flagged card among the prompts at the top of the page, with the audit it comes from."""

    card: TrustCard
    audit: str
    short_name: str

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.card, name)


@dataclass(frozen=True)
class AbsentAudit:
    """A shown audit whose current release has no results of the trust (the page says so, not a blank)."""

    code: str
    name: str
    release: int


@dataclass
class TrustPage:
    """What the trust dashboard shows: its audits' sections and the flagged cards, grouped, and by audit the
    results reviewed with the trust (``dashboards.pages.outliers.published_responses``)."""

    trust: Any
    sections: list[TrustSection]
    worse: list[Prompt] = field(default_factory=list)
    better: list[Prompt] = field(default_factory=list)
    other: list[Prompt] = field(default_factory=list)
    reviews: dict[str, list[PublishedResponse]] = field(default_factory=dict)
    absent: list[AbsentAudit] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sections = [replace(s, reviews=tuple(self.reviews.get(s.piece.audit, ()))) for s in self.sections]
        groups = {"worse": self.worse, "better": self.better, "higher": self.other, "lower": self.other}
        for section in self.sections:
            for card in section.piece.cards:
                if card.meaning in groups:
                    groups[card.meaning].append(Prompt(card, section.piece.audit, section.piece.short_name))

    @property
    def compared(self) -> int:
        return sum(s.piece.compared for s in self.sections)

    def context(self) -> dict[str, Any]:
        return {
            "trust": self.trust,
            "sections": self.sections,
            "worse": self.worse,
            "better": self.better,
            "other": self.other,
            "compared": self.compared,
            "absent": self.absent,
            "expected_by_chance": round(0.05 * self.compared, 1),
        }


# ------------------------------------------------------------------ building


def _trend_values(
    trend: tuple[list[dict[str, Any]], dict[str, Any] | None], level: str, variant: str
) -> tuple[list[dict[str, Any]], list[float | None]]:
    points, public = trend
    published, _ = publish_trend(level=level, points=points, xmr=None, public=public, unsuppressed=variant == "analyst")
    return published, [p.get("value") for p in published]


def build_trusts(context: RunContext, variant: str) -> dict[str, TrustPiece]:
    """One piece per trust with results: every indicator's card for the trust dashboard.

    With the public variant, each trust's :data:`OWN` piece too (``trust:<code>:own``): its own cards from the
    exact figures (the analysts' rows and quarters of that trust only), beside the public alliance, England and
    spread across trusts; only while :func:`accounts.roles.trust_teams_see_own_figures` (a page without its own
    piece shows the public one: turning the setting on takes ``build_dashboards --rebuild``)."""
    pieces = _build_trusts(context, variant, own=False)
    if variant == "public" and trust_teams_see_own_figures():
        pieces.update(_build_trusts(context, OWN, own=True))
    return pieces


def _build_trusts(context: RunContext, variant: str, *, own: bool) -> dict[str, TrustPiece]:
    cards_by_trust: dict[str, list[TrustCard]] = defaultdict(list)
    unavailable = []
    seen = "public" if own else variant  # what this reader sees of every row but the trust's own
    for code, definition in context.definitions.items():
        period = context.headline(code)
        if period is None:
            unavailable.append(
                Unavailable(code=code, title=definition.title, reason=unavailable_reason(context, code, seen))
            )
            continue
        national = context.result(seen, code, NATIONAL, period, ENGLAND_CODE)
        england_text = national["value_text"] if national else "-"
        providers = context.level(seen, code, PROVIDER, period)
        alliances = context.level(seen, code, ALLIANCE, period)
        spread = [r["plotted"] for r in providers.values() if r["compared"] and r["plotted"] is not None]
        exact = context.level("analyst", code, PROVIDER, period) if own else providers
        for org in providers:
            result = exact[org]
            trust = context.trusts.get(org, {})
            alliance = alliances.get(trust.get("alliance_id", ""))
            spine = figures.spine(
                values=spread,
                value=result["plotted"],
                ci=(result["lower"], result["upper"]),
                england=national["plotted"] if national else None,
                alliance=alliance["plotted"] if alliance else None,
                direction=definition.direction,
            )
            spine_text = ""
            if spine and spine["value"] is not None:
                spine["marker"] = figures.marker_path(result["meaning"], spine["value"], 12.0)
            if spine:
                quantiles = {k: text.percent(v) for k, v in spine["quantiles"].items()}
                spine_text = text.spread_sentence(values_text=quantiles, n=spine["n"])
            points, values = _trend_values(
                context.sparks.get((code, PROVIDER, org), ([], None)), PROVIDER, "analyst" if own else variant
            )
            spark = figures.sparkline(values)
            spark_text = ""
            if spark:
                known = [(p["quarter"], v) for p, v in zip(points, values, strict=True) if v is not None]
                spark_text = (
                    f"Quarterly values from {known[0][0]} ({text.percent(known[0][1])}) to {known[-1][0]} "
                    f"({text.percent(known[-1][1])})."
                )
            cards_by_trust[org].append(
                TrustCard(
                    code=code,
                    title=definition.title,
                    period=period,
                    direction=definition.direction,
                    kind=kind_of(definition),
                    value_text=result["value_text"],
                    ci_text=result["ci_text"],
                    ratio_text=result["ratio_text"],
                    counts=count_phrase(result, definition),
                    england_text=england_text,
                    alliance_text=alliance["value_text"] if alliance else "-",
                    flag=result["flag"],
                    meaning=result["meaning"],
                    label=result["label"],
                    colour=text.MEANING_COLOURS[result["meaning"]],
                    compared=result["compared"],
                    shown=result["shown"],
                    sentence=result_sentence("this trust", result, england_text, definition),
                    spine=spine,
                    spine_text=spine_text,
                    spark=spark,
                    spark_text=spark_text,
                    has_trend=bool(points),
                    prompt=definition.prompt,
                    recommendation=definition.recommendation,
                    standard=(definition.standard or {}).get("label", ""),
                )
            )
    release = context.run.release
    pieces = {}
    for org, cards in cards_by_trust.items():
        piece = TrustPiece(
            audit=context.audit_code,
            audit_name=context.audit_name,
            short_name=context.short_name,
            release=release.version,
            extract_date=release.extract_date.isoformat(),
            cards=cards,
            compared=sum(1 for c in cards if c.compared),
            unavailable=unavailable,
        )
        piece.html = section_html(
            piece, trust_code=org, trust_name=context.trusts.get(org, {}).get("name", org), variant=variant
        )
        pieces[trust_key(org, variant)] = piece
    return pieces
