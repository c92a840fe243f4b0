"""What changed between two runs, as one reader may see them: the pure half of :mod:`indicators.changes`.

:func:`compare` takes both runs' results (already passed through the disclosure rules for the reader) and
gives flags that appeared, cleared or changed, the trusts' moves, England's change and special causes new in
the XmR charts. A row hidden in either run gives no flag change and no move.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from indicators.headline import headline_key
from indicators.levels import ALLIANCE, NATIONAL, PROVIDER
from indicators.stats.vocabulary import Direction

APPEARED, CLEARED, CHANGED = "appeared", "cleared", "changed"
#: The result fields a comparison reads (as published to the reader).
FIELDS = (
    "indicator",
    "level",
    "organisation",
    "period",
    "period_start",
    "period_end",
    "numerator",
    "value",
    "adjusted_rate",
    "flag",
    "eligible",
    "suppressed",
    "public",
)


@dataclass(frozen=True)
class Indicator:
    """What a comparison needs of an indicator's definition."""

    code: str
    title: str
    direction: Direction
    shown_field: str  # the result field the pages show as its value (its kind's)


@dataclass(frozen=True)
class Place:
    """A trust, an alliance or England: its level, code, name and (a trust's) alliance."""

    level: str
    code: str
    name: str
    alliance: str = ""


@dataclass(frozen=True)
class FlagChange:
    """A flag that appeared, cleared or changed at a trust or alliance between the two releases' headline periods.

    ``before`` is the flag in the previous release (None: not compared then, or no result), ``after`` the flag
    now ("none" when it cleared)."""

    indicator: Indicator
    place: Place
    change: str
    before: str | None
    after: str
    period_before: str | None
    period: str

    @property
    def flag(self) -> str:
        """The flag the change is about: the new one, or the one that cleared."""
        return (self.before or "none") if self.change == CLEARED else self.after

    @property
    def level_word(self) -> str:
        """ "alarm" (beyond the 99.8% limit) or "alert" (beyond the 95% limit)."""
        return "alarm" if self.flag.startswith("alarm") else "alert"


@dataclass(frozen=True)
class Move:
    """A value shown at both ends (on the scale the pages show: a percentage)."""

    indicator: Indicator
    place: Place
    before: float
    after: float
    period_before: str
    period: str
    flag: str

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class SpecialCause:
    """Quarters of an XmR chart flagged as special cause now and not in the previous release's chart."""

    indicator: Indicator
    place: Place
    quarters: tuple[str, ...]
    rules: tuple[str, ...]  # indicators.stats.spc rule names, in order of first appearance
    point_type: str  # of the latest such quarter: special_cause_improvement | _concern | _neutral
    side: str  # "high" or "low"


@dataclass(frozen=True)
class ReleaseChanges:
    """What changed between a release and the previous published one, as one reader may see it."""

    audit: str
    release_id: int
    version: int
    previous_id: int | None
    previous_version: int | None
    unsuppressed: bool
    flags: list[FlagChange] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    national: list[Move] = field(default_factory=list)
    special_causes: list[SpecialCause] = field(default_factory=list)

    @property
    def appeared(self) -> list[FlagChange]:
        return [f for f in self.flags if f.change == APPEARED]

    @property
    def cleared(self) -> list[FlagChange]:
        return [f for f in self.flags if f.change == CLEARED]

    @property
    def changed(self) -> list[FlagChange]:
        return [f for f in self.flags if f.change == CHANGED]

    def largest_moves(self, per_indicator: int = 5) -> list[Move]:
        """The trusts whose value moved most (either way) in each indicator, largest first."""
        out: list[Move] = []
        for code in dict.fromkeys(m.indicator.code for m in self.moves):
            moves = [m for m in self.moves if m.indicator.code == code]
            out += sorted(moves, key=lambda m: (-abs(m.change), m.place.name))[:per_indicator]
        return out

    def for_places(self, codes: Collection[str]) -> ReleaseChanges:
        """Only the changes of these trusts and alliances (England's change stays: it is everyone's context)."""
        return replace(
            self,
            flags=[f for f in self.flags if f.place.code in codes],
            moves=[m for m in self.moves if m.place.code in codes],
            special_causes=[s for s in self.special_causes if s.place.code in codes],
        )


def headline_periods(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each indicator's headline period, as the dashboards lead with (:func:`indicators.headline.headline_key`)."""
    best: dict[str, tuple[Any, str]] = {}
    for row in rows:
        if row["level"] != NATIONAL:
            continue
        key = headline_key(row["period_start"], row["period_end"])
        if row["indicator"] not in best or key > best[row["indicator"]][0]:
            best[row["indicator"]] = (key, row["period"])
    return {code: period for code, (_, period) in best.items()}


def _hidden(row: Mapping[str, Any]) -> bool:
    """Hidden from this reader by small-number suppression (as ``publish_results`` gave it)."""
    return bool(row.get("suppressed")) and row.get("numerator") is None


def _compared_flag(row: Mapping[str, Any] | None) -> str | None:
    if row is None or not row.get("eligible") or row.get("flag") is None:
        return None
    return str(row["flag"])


def _flagged(flag: str | None) -> bool:
    return flag is not None and flag != "none"


def _flag_change(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[str, str | None, str] | None:
    old, new = _compared_flag(before), _compared_flag(after)
    if new is None:
        return None  # not compared now: it neither appeared nor cleared
    if _flagged(new) and not _flagged(old):
        return APPEARED, old, new
    if _flagged(old) and new == "none":
        return CLEARED, old, new
    if _flagged(old) and _flagged(new) and old != new:
        return CHANGED, old, new
    return None


def special_cause_quarters(
    points: list[dict[str, Any]], partial: list[bool], chart: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """The quarters of a published series whose XmR chart point is a special cause, with that point.

    The chart's points are the quarters with a value not followed up in part, in order
    (``indicators.compute.trends.trend_chart``); ``partial`` says which quarters were (from the stored series)."""
    if not chart:
        return {}
    charted = [
        p["quarter"] for p, part in zip(points, partial, strict=False) if p.get("value") is not None and not part
    ]
    return {
        quarter: point
        for quarter, point in zip(charted, chart.get("points") or [], strict=False)
        if point.get("special_cause_flag")
    }


def compare(
    *,
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    indicators: Mapping[str, Indicator],
    places: Mapping[tuple[str, str], Place],
    signals_before: Mapping[tuple[str, str, str], Mapping[str, Mapping[str, Any]]] | None = None,
    signals_after: Mapping[tuple[str, str, str], Mapping[str, Mapping[str, Any]]] | None = None,
    **identity: Any,
) -> ReleaseChanges:
    """The changes between two runs' published results (``before`` empty: there is no previous release).

    ``before`` and ``after`` are result rows as :func:`indicators.disclosure.publish_results` gives them to
    the reader; ``signals_*`` map (indicator, level, organisation) to its special-cause quarters
    (:func:`special_cause_quarters`); ``identity`` names the releases (the fields of :class:`ReleaseChanges`
    before ``flags``)."""
    heads_before, heads_after = headline_periods(before), headline_periods(after)
    index_before = {
        (r["indicator"], r["level"], r["organisation"]): r
        for r in before
        if heads_before.get(r["indicator"]) == r["period"]
    }
    flags: list[FlagChange] = []
    moves: list[Move] = []
    national: list[Move] = []
    for row in after:
        code = row["indicator"]
        if code not in indicators or heads_after.get(code) != row["period"]:
            continue
        indicator, key = indicators[code], (code, row["level"], row["organisation"])
        old = index_before.get(key)
        place = places.get((row["level"], row["organisation"])) or Place(row["level"], row["organisation"], "")
        if _hidden(row) or (old is not None and _hidden(old)):
            continue  # a hidden end: nothing about it may be said
        value, old_value = row.get(indicator.shown_field), old.get(indicator.shown_field) if old else None
        if row["level"] == NATIONAL:
            if value is not None and old_value is not None and old is not None:
                national.append(
                    Move(indicator, place, old_value, value, old["period"], row["period"], str(row.get("flag")))
                )
            continue
        if before:
            found = _flag_change(old, row)
            if found:
                change, was, now = found
                flags.append(
                    FlagChange(
                        indicator,
                        place,
                        change,
                        was,
                        now,
                        old["period"] if old else heads_before.get(code),
                        row["period"],
                    )
                )
        if row["level"] == PROVIDER and old is not None and value is not None and old_value is not None:
            if row.get("eligible") and old.get("eligible"):
                moves.append(Move(indicator, place, old_value, value, old["period"], row["period"], row["flag"]))
    causes: list[SpecialCause] = []
    if before:
        for (code, level, organisation), quarters in (signals_after or {}).items():
            if code not in indicators:
                continue
            known = (signals_before or {}).get((code, level, organisation), {})
            new = [q for q in quarters if q not in known]
            if not new:
                continue
            latest = quarters[new[-1]]
            place = places.get((level, organisation)) or Place(level, organisation, "")
            rules = tuple(dict.fromkeys(str(quarters[q].get("special_cause_rule") or "") for q in new))
            causes.append(
                SpecialCause(
                    indicators[code],
                    place,
                    tuple(new),
                    rules,
                    str(latest.get("point_type") or ""),
                    str(latest.get("side") or ""),
                )
            )
    order = {code: i for i, code in enumerate(indicators)}
    levels = {PROVIDER: 0, ALLIANCE: 1, NATIONAL: 2}

    def sort_key(item: FlagChange | Move | SpecialCause) -> tuple[int, int, str]:
        return order[item.indicator.code], levels.get(item.place.level, 3), item.place.name or item.place.code

    return ReleaseChanges(
        **identity,
        flags=sorted(flags, key=sort_key),
        moves=sorted(moves, key=sort_key),
        national=sorted(national, key=sort_key),
        special_causes=sorted(causes, key=sort_key),
    )
