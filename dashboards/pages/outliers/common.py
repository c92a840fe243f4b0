"""What the outlier pages share: the words for owners, outcomes and deadlines, and the indicators by audit."""

from __future__ import annotations

from datetime import date

from indicators.definitions import IndicatorDefinition
from indicators.registry import indicators_for

OWNERS = {
    "audit_team": "The audit team",
    "trust_lead": "The trust's clinical lead",
    "chief_executive": "The trust's chief executive (recorded by the audit team or the trust's lead)",
    "alliance_lead": "The Cancer Alliance's lead",
}


def words(name: str) -> str:
    """A policy's name (``share_with_trust``) in words (``Share with trust``)."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def due_words(due: date | None, open_: bool, today: date) -> tuple[str, bool]:
    """The deadline in words, and whether it is overdue (said in the words too, never by colour alone)."""
    if not open_:
        return "-", False
    if due is None:
        return "No deadline", False
    when = f"{due.day} {due:%B %Y}"
    if due < today:
        late = (today - due).days
        return f"Overdue: was due {when} ({late} day{'s' if late != 1 else ''} ago)", True
    return f"Due {when}", False


def definitions_of(audit_codes: set[str]) -> dict[tuple[str, str], IndicatorDefinition]:
    found = {}
    for audit in audit_codes:
        try:
            definitions = indicators_for(audit)
        except KeyError:  # an audit no longer defined: its cases keep their codes
            continue
        found.update({(audit, d.code): d for d in definitions})
    return found
