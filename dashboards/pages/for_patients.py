"""A trust's page for patients and the public (``/trusts/<ods>/for-patients/``): what each audit with results for
the trust looks at, and how the trust compares, in words a nine-year-old can read, as NATCAN's patient reports are.

Words only, no figures: each result says one of the meanings the trust's page already gives
(:func:`dashboards.text.meaning_of`: within the expected range, better, worse, higher or lower than expected, or not
compared), in plainer words. It is read from the trust's *public* piece whoever reads it, so a result hidden by
small-number suppression says "too few patients" and no count behind it is ever near the page.

What an audit and each of its indicators look at comes from the audit's definition file: its ``plain:`` words (at
the top, and on each indicator), so a new audit brings its own; without them, the audit's description and the
indicator's title.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audits.schema import AuditDefinition
    from dashboards.pages.trust import TrustCard, TrustPiece
    from indicators.definitions import IndicatorDefinition

#: How a result compares, in plain words, by its meaning (the keys of :data:`dashboards.text.MEANING_COLOURS`).
PLAIN_MEANINGS = {
    "as_expected": "Here it was about the same as at most hospitals.",
    "better": "Here it was better than expected.",
    "worse": "Here it was worse than expected.",
    "higher": "Here it was higher than expected. For this one, higher is not good or bad on its own.",
    "lower": "Here it was lower than expected. For this one, lower is not good or bad on its own.",
    "not_compared": "We could not say here, because there were too few patients.",
}
#: The meanings that are a flag: further from England than chance would usually give.
FLAGGED = frozenset({"better", "worse", "higher", "lower"})
#: What an audit looks at when its file says nothing in plain words and has no description.
NO_WORDS = "It looks at the care of people with cancer."


def what_audit_measures(definition: AuditDefinition) -> str:
    """The audit's ``plain:`` words; without them, its description."""
    return definition.plain or definition.description or NO_WORDS


def what_indicator_measures(definition: IndicatorDefinition | None, title: str) -> str:
    """The indicator's ``plain:`` words; without them, a sentence from its title (the card's, for an indicator no
    longer in the file)."""
    if definition is not None and definition.plain:
        return definition.plain
    title = (definition.title if definition is not None else title).strip().rstrip(".")
    return f"It looks at this: {title[:1].lower()}{title[1:]}."


def plain_meaning(card: TrustCard) -> str:
    """The card's meaning as the public sees it: a result not shown (small numbers) is one not compared."""
    if not card.shown or card.meaning not in PLAIN_MEANINGS:
        return "not_compared"
    return card.meaning


@dataclass(frozen=True)
class PlainResult:
    """One indicator: what it looks at, and how the trust compares, in words."""

    code: str
    what: str
    meaning: str

    @property
    def words(self) -> str:
        return PLAIN_MEANINGS[self.meaning]

    @property
    def flagged(self) -> bool:
        return self.meaning in FLAGGED


@dataclass(frozen=True)
class PlainAudit:
    """One audit with results for the trust."""

    code: str
    name: str
    short_name: str
    about: str
    results: tuple[PlainResult, ...]


@dataclass(frozen=True)
class PatientSource:
    """What one audit's part of the page is made from: its definition, its indicators' and the trust's public
    piece."""

    audit: AuditDefinition
    indicators: dict[str, IndicatorDefinition]
    piece: TrustPiece


@dataclass
class PatientPage:
    """The trust's page for patients."""

    trust: Any
    audits: list[PlainAudit] = field(default_factory=list)

    def _meanings(self) -> set[str]:
        return {result.meaning for audit in self.audits for result in audit.results}

    @property
    def summary(self) -> str:
        """One or two sentences before the audits: whether any result is flagged, and which way."""
        meanings = self._meanings()
        if not self.audits:
            return ""
        if "worse" in meanings:
            return (
                "Some results here were worse than expected. That is a sign to look closer. Read below what it means."
            )
        if "better" in meanings:
            return "Some results here were better than expected. No result was worse than expected."
        if meanings & FLAGGED:
            return "Some results here were higher or lower than expected. No result was better or worse than expected."
        if meanings == {"not_compared"}:
            return "There were too few patients here to say how this trust compares."
        return "No result here was better or worse than expected."

    def context(self) -> dict[str, Any]:
        return {"trust": self.trust, "audits": self.audits, "summary": self.summary}


def patient_page(trust: Any, sources: list[PatientSource]) -> PatientPage:
    """The page from each audit's public piece of the trust (in the order given), with its definition's words."""
    audits = []
    for source in sources:
        results = tuple(
            PlainResult(
                code=card.code,
                what=what_indicator_measures(source.indicators.get(card.code), card.title),
                meaning=plain_meaning(card),
            )
            for card in source.piece.cards
        )
        if results:
            audits.append(
                PlainAudit(
                    code=source.audit.code,
                    name=source.audit.name,
                    short_name=source.audit.short_name,
                    about=what_audit_measures(source.audit),
                    results=results,
                )
            )
    return PatientPage(trust=trust, audits=audits)
