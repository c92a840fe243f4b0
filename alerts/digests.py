"""A digest email: what a published release changed for one subscription, in the "what changed" page's words.

Pure but for the template: the changes come filtered to the subscription's trusts and alliances and as its
reader may see them (the public's view unless the subscriber is one of the audit's analysts), so an email
says nothing the page would not say to the same person.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from dashboards.pages.changes import ChangesPiece, FlagRow, SpecialCauseRow, build_changes
from indicators.changes import ReleaseChanges

#: Sentences listed per section of an email; the page has the rest.
MOST = 25


@dataclass(frozen=True)
class Digestion:
    """What one digest is made of."""

    kind: str
    code: str
    name: str
    audit_name: str
    changes: ReleaseChanges
    changes_url: str
    place_url: str
    unsubscribe_url: str
    manage_url: str


@dataclass(frozen=True)
class Email:
    subject: str
    body: str
    unsubscribe_url: str


def subject_of(what: Digestion, piece: ChangesPiece) -> str:
    counts = f"{len(piece.appeared)} new flag{'' if len(piece.appeared) == 1 else 's'}, {len(piece.cleared)} cleared"
    about = "" if what.kind == "audit" else f" ({what.name})"
    return f"{what.audit_name} release {piece.version}: {counts}{about}"


def digest_email(what: Digestion) -> Email:
    piece = build_changes(what.changes)
    sections: list[tuple[str, list[FlagRow] | list[SpecialCauseRow]]] = [
        ("New flags", piece.appeared),
        ("Flags cleared", piece.cleared),
        ("Flags that changed", piece.changed),
        ("New special causes in the quarterly charts", piece.special_causes),
    ]
    body = render_to_string(
        "alerts/digest.txt",
        {
            "what": what,
            "piece": piece,
            "sections": [
                {"title": title, "rows": rows[:MOST], "more": max(0, len(rows) - MOST)} for title, rows in sections
            ],
            "england": piece.england if what.kind == "audit" else [],
        },
    )
    return Email(subject=subject_of(what, piece), body=body, unsubscribe_url=what.unsubscribe_url)
