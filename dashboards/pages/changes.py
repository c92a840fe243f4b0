"""The "what changed" page of a release (issue 13 item 8), and the words a digest email reuses.

Built on request from :func:`indicators.changes.release_changes` (two runs' published results): flags that
appeared, cleared or changed, the trusts' largest moves, England's change and new special causes, each in a
sentence, with the CSV schemas of its tables. The digests (:mod:`alerts.digests`) say the same sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards import text
from dashboards.figures import RULE_WORDS
from dashboards.pages.piece import CsvSchema, Piece, columns
from indicators.changes import APPEARED, CHANGED, CLEARED, FlagChange, Move, ReleaseChanges, SpecialCause
from indicators.levels import ALLIANCE, PROVIDER
from indicators.stats.flags import flag_label
from indicators.stats.vocabulary import Direction

PLACE_WORDS = {PROVIDER: "NHS trust", ALLIANCE: "Cancer Alliance"}
CHANGE_WORDS = {APPEARED: "New flag", CLEARED: "Flag cleared", CHANGED: "Flag changed"}
SPECIAL_CAUSE_WORDS = {
    "special_cause_improvement": "improvement",
    "special_cause_concern": "concern",
    "special_cause_neutral": "neither better nor worse",
}


def points(change: float) -> str:
    """A change of a percentage in percentage points, with its sign: "+3.2 points"."""
    amount = 100 * change
    return "no change" if abs(amount) < 0.05 else f"{amount:+.1f} percentage points"


@dataclass(kw_only=True)
class FlagRow(Piece):
    """A flag that appeared, cleared or changed at a trust or alliance."""

    indicator: str
    indicator_title: str
    level: str
    place: str
    place_name: str
    change: str
    change_text: str
    flag: str
    level_word: str
    period_before: str
    period: str
    before_text: str
    after_text: str
    sentence: str


@dataclass(kw_only=True)
class MoveRow(Piece):
    """A value shown at both ends: a trust's, or England's."""

    indicator: str
    indicator_title: str
    place: str
    place_name: str
    period_before: str
    period: str
    before_text: str
    after_text: str
    change_text: str
    sentence: str


@dataclass(kw_only=True)
class SpecialCauseRow(Piece):
    """Quarters newly flagged as special cause in an XmR chart."""

    indicator: str
    indicator_title: str
    level: str
    place: str
    place_name: str
    quarters: str
    kind_text: str
    rules_text: str
    sentence: str


@dataclass(kw_only=True)
class ChangesPiece(Piece):
    """What changed in one release against the previous published one, as one reader may see it."""

    audit: str
    release_id: int
    version: int
    previous_version: int | None
    analyst: bool
    summary: str
    appeared: list[FlagRow]
    cleared: list[FlagRow]
    changed: list[FlagRow]
    moves: list[MoveRow]
    england: list[MoveRow]
    special_causes: list[SpecialCauseRow]

    @property
    def flags(self) -> list[FlagRow]:
        return [*self.appeared, *self.cleared, *self.changed]


def _flag_words(flag: str | None, direction: Direction) -> str:
    return "not compared" if flag is None else flag_label(flag, direction).lower()


def flag_row(item: FlagChange, previous: int | None) -> FlagRow:
    direction = item.indicator.direction
    name = item.place.name or item.place.code
    before = _flag_words(item.before, direction)
    was = (
        f"in release {previous} ({item.period_before}) it was {before}"
        if item.period_before
        else f"it had no result in release {previous}"
    )
    if item.change == CLEARED:
        sentence = f"{name}: {item.indicator.title} is now within the expected range ({item.period}); {was}."
    elif item.change == APPEARED:
        sentence = (
            f"{name}: new {item.level_word} on {item.indicator.title} ({item.period}): "
            f"{text.flag_phrase(item.after, direction)}; {was}."
        )
    else:
        sentence = (
            f"{name}: {item.indicator.title} is now an {item.level_word} ({item.period}): "
            f"{text.flag_phrase(item.after, direction)}; {was}."
        )
    return FlagRow(
        indicator=item.indicator.code,
        indicator_title=item.indicator.title,
        level=item.place.level,
        place=item.place.code,
        place_name=name,
        change=item.change,
        change_text=CHANGE_WORDS[item.change],
        flag=item.flag,
        level_word=item.level_word,
        period_before=item.period_before or "",
        period=item.period,
        before_text=before.capitalize(),
        after_text=_flag_words(item.after, direction).capitalize(),
        sentence=sentence[0].upper() + sentence[1:],
    )


def move_row(item: Move, previous: int | None) -> MoveRow:
    name = item.place.name or item.place.code
    same = item.period_before == item.period
    periods = item.period if same else f"{item.period_before}, now {item.period}"
    sentence = (
        f"{name}: {item.indicator.title} {text.percent(item.after)} against {text.percent(item.before)} in "
        f"release {previous} ({points(item.change)}; {periods})."
    )
    return MoveRow(
        indicator=item.indicator.code,
        indicator_title=item.indicator.title,
        place=item.place.code,
        place_name=name,
        period_before=item.period_before,
        period=item.period,
        before_text=text.percent(item.before),
        after_text=text.percent(item.after),
        change_text=points(item.change),
        sentence=sentence,
    )


def special_cause_row(item: SpecialCause) -> SpecialCauseRow:
    name = item.place.name or item.place.code
    kind = SPECIAL_CAUSE_WORDS.get(item.point_type, "special cause")
    side = {"high": "higher", "low": "lower"}.get(item.side, "")
    rules = "; ".join(RULE_WORDS.get(rule, rule).removeprefix("Special cause: ") for rule in item.rules)
    quarters = ", ".join(item.quarters)
    sentence = (
        f"{name}: {item.indicator.title} shows special cause variation ({kind}{', ' + side if side else ''}) "
        f"in {quarters}: {rules}."
    )
    return SpecialCauseRow(
        indicator=item.indicator.code,
        indicator_title=item.indicator.title,
        level=item.place.level,
        place=item.place.code,
        place_name=name,
        quarters=quarters,
        kind_text=f"{kind} ({side})" if side else kind,
        rules_text=rules,
        sentence=sentence,
    )


def summary_sentence(changes: ReleaseChanges) -> str:
    if changes.previous_version is None:
        return f"Release {changes.version} is the first published release of this audit: there is nothing to compare."
    appeared, cleared = len(changes.appeared), len(changes.cleared)
    return (
        f"Against release {changes.previous_version}: {appeared} new flag{'' if appeared == 1 else 's'}, "
        f"{cleared} flag{'' if cleared == 1 else 's'} cleared, {len(changes.changed)} changed, and "
        f"{len(changes.special_causes)} new special cause{'' if len(changes.special_causes) == 1 else 's'} "
        "in the quarterly charts."
    )


def build_changes(changes: ReleaseChanges, *, moves_per_indicator: int = 5) -> ChangesPiece:
    """The page (or a digest) of ``changes``; ``moves_per_indicator`` trusts' largest moves per indicator."""
    previous = changes.previous_version
    return ChangesPiece(
        audit=changes.audit,
        release_id=changes.release_id,
        version=changes.version,
        previous_version=previous,
        analyst=changes.unsuppressed,
        summary=summary_sentence(changes),
        appeared=[flag_row(f, previous) for f in changes.appeared],
        cleared=[flag_row(f, previous) for f in changes.cleared],
        changed=[flag_row(f, previous) for f in changes.changed],
        moves=[move_row(m, previous) for m in changes.largest_moves(moves_per_indicator)],
        england=[move_row(m, previous) for m in changes.national],
        special_causes=[special_cause_row(s) for s in changes.special_causes],
    )


#: ``?download=flags``.
FLAGS_CSV: CsvSchema[FlagRow] = columns(
    ("indicator", lambda r: r.indicator),
    ("indicator_title", lambda r: r.indicator_title),
    ("level", lambda r: r.level),
    ("organisation", lambda r: r.place),
    ("organisation_name", lambda r: r.place_name),
    ("change", lambda r: r.change),
    ("flag_level", lambda r: r.level_word),
    ("flag_before", lambda r: r.before_text),
    ("flag_now", lambda r: r.after_text),
    ("period_before", lambda r: r.period_before),
    ("period", lambda r: r.period),
)
#: ``?download=moves`` and ``?download=england``.
MOVES_CSV: CsvSchema[MoveRow] = columns(
    ("indicator", lambda r: r.indicator),
    ("indicator_title", lambda r: r.indicator_title),
    ("organisation", lambda r: r.place),
    ("organisation_name", lambda r: r.place_name),
    ("period_before", lambda r: r.period_before),
    ("value_before", lambda r: r.before_text),
    ("period", lambda r: r.period),
    ("value", lambda r: r.after_text),
    ("change", lambda r: r.change_text),
)
#: ``?download=special-causes``.
SPECIAL_CAUSES_CSV: CsvSchema[SpecialCauseRow] = columns(
    ("indicator", lambda r: r.indicator),
    ("indicator_title", lambda r: r.indicator_title),
    ("level", lambda r: r.level),
    ("organisation", lambda r: r.place),
    ("organisation_name", lambda r: r.place_name),
    ("quarters", lambda r: r.quarters),
    ("variation", lambda r: r.kind_text),
    ("rules", lambda r: r.rules_text),
)
