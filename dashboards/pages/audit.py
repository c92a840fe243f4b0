"""The audit page: one piece per run and variant (its indicators in words, periods, England's headline value
and flag counts), read also by the indicator and trend pages, and its CSV."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dashboards.pages.piece import CsvSchema, Piece, columns
from dashboards.pages.run import RunContext, count_phrase, kind_of, unavailable_reason
from indicators.kinds import Kind
from indicators.levels import ENGLAND_CODE, NATIONAL, PROVIDER
from indicators.stats.vocabulary import HIGHER_IS_BETTER, LOWER_IS_BETTER


def audit_key(variant: str) -> str:
    return f"audit:{variant}"


DIRECTION_TEXT = {HIGHER_IS_BETTER: "Higher is better", LOWER_IS_BETTER: "Lower is better"}


@dataclass(kw_only=True)
class AuditIndicator(Piece):
    """An indicator of the audit: its definition in words, its periods and England at the headline period."""

    code: str
    title: str
    description: str
    numerator_text: str
    denominator_text: str
    direction: str
    kind: Kind
    direction_text: str
    minimum_denominator: int
    standard: str
    prompt: str | None
    recommendation: str | None
    funnel_method: str
    periods: list[str]
    headline: str | None
    reason: str
    england: str
    england_counts: str
    outside_95: int
    compared: int

    @property
    def limits_text(self) -> str:
        """Its funnel limits in words (the kind's, with the definition's method)."""
        return self.kind.limits_words.format(method=self.funnel_method)


@dataclass(kw_only=True)
class AuditPiece(Piece):
    """The audit's release and its indicators."""

    audit: str
    audit_name: str
    short_name: str
    release: int
    extract_date: str
    period_start: str
    period_end: str
    indicators: list[AuditIndicator]

    def indicator(self, code: str) -> AuditIndicator | None:
        return next((i for i in self.indicators if i.code == code), None)


#: ``?download=indicators`` of the audit page.
INDICATORS_CSV: CsvSchema[AuditIndicator] = columns(
    ("code", lambda i: i.code),
    ("indicator", lambda i: i.title),
    ("period", lambda i: i.headline or ""),
    ("england", lambda i: i.england),
    ("england_counts", lambda i: i.england_counts),
    ("trusts_compared", lambda i: i.compared),
    ("trusts_outside_95_limits", lambda i: i.outside_95),
    ("direction", lambda i: i.direction_text),
    ("numerator", lambda i: i.numerator_text),
    ("denominator", lambda i: i.denominator_text),
    ("risk_adjusted", lambda i: i.kind.risk_adjusted),
)


def build_audit(context: RunContext, variant: str) -> AuditPiece:
    """The audit's indicators: definitions in words, periods, England's headline value and flag counts."""
    items = []
    for code, definition in context.definitions.items():
        headline = context.headline(code)
        national = None
        counts: dict[str, int] = defaultdict(int)
        if headline:
            national = context.result(variant, code, NATIONAL, headline, ENGLAND_CODE)
            for row in context.level(variant, code, PROVIDER, headline).values():
                if row["compared"]:
                    counts[row["flag"]] += 1
        items.append(
            AuditIndicator(
                code=code,
                title=definition.title,
                description=definition.description,
                numerator_text=definition.numerator_text,
                denominator_text=definition.denominator_text,
                direction=definition.direction,
                kind=kind_of(definition),
                direction_text=DIRECTION_TEXT.get(definition.direction, "Neither higher nor lower is better in itself"),
                minimum_denominator=definition.minimum_denominator,
                standard=(definition.standard or {}).get("label", ""),
                prompt=definition.prompt,
                recommendation=definition.recommendation,
                funnel_method=definition.funnel_method,
                periods=context.periods.get(code, []),
                headline=headline,
                reason="" if headline else unavailable_reason(context, code, variant),
                england=national["value_text"] if national else "-",
                england_counts=count_phrase(national, definition) if national else "",
                outside_95=sum(v for k, v in counts.items() if k != "none"),
                compared=sum(counts.values()),
            )
        )
    release = context.run.release
    return AuditPiece(
        audit=context.audit_code,
        audit_name=context.audit_name,
        short_name=context.short_name,
        release=release.version,
        extract_date=release.extract_date.isoformat(),
        period_start=release.period_start.isoformat() if release.period_start else "",
        period_end=release.period_end.isoformat() if release.period_end else "",
        indicators=items,
    )
