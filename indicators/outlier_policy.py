"""An audit's outlier policy: which flags open a case, and the stages a case walks (pure: stdlib and yaml).

Declared under ``outlier_policy:`` at the top level of the audit's definition file (README, "Outlier
process")::

    outlier_policy:
      extends: hqip_formal          # a shipped base policy (indicators/outlier_policies/<name>.yaml)
      track: formal                 # formal | supportive; by default the base's
      levels: [alarm, alert]        # flags that open cases: alarm (beyond 99.8%), alert (beyond 95%)
      directions: [worse, better]   # better opens a "learn from" case
      reporting_period: latest      # latest | all | a period label
      country: England              # whose bank holidays the deadlines skip (a trust's own country first)
      stages:                       # rare: override keys of a base stage, by stage name
        trust_review: {working_days: 20}

An audit without the key follows ``hqip_formal`` with levels [alarm] and directions [worse, better].

A base policy lists its tracks: for some (level, direction) pairs, the stages of a case in order. A stage
has an owner (who acts on it), a deadline in working days (none: no deadline), who is notified when it
starts, what happens when it is overdue (a reminder, then an escalation), and its outcomes: each names
the next stage of the track or closes the case (``closed:<outcome>``).

The durations of the shipped bases are RECONSTRUCTED from HQIP's "Detection and management of outliers
for National Clinical Audits" (Table 1) as far as it is known here: they must be checked against the
current HQIP guidance before live use (the base files and the README say so too).

Errors are ``audits.schema.DefinitionError`` naming the file, the entry and the offending key, as the other
definition checks do; ``indicators/checks.py`` runs ``parse_policy`` at start-up and in ``check_definition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from audits.schema import AuditDefinition, DefinitionError, Fail, check_keys

BASE_DIR = Path(__file__).resolve().parent / "outlier_policies"
DEFAULT_BASE = "hqip_formal"

TRACKS = ("formal", "supportive")
#: HQIP's levels: an alarm is beyond the 99.8% funnel limit, an alert beyond the 95% limit.
LEVELS = ("alarm", "alert")
#: What a flag means given the indicator's direction (indicators.stats.flags.flag_meaning).
DIRECTIONS = ("worse", "better")
#: Who acts on a stage.
OWNERS = ("audit_team", "trust_lead", "chief_executive", "alliance_lead")
#: Who may be told (a trust's contacts, the regulator's address, the audit's analysts, the alliance's lead).
RECIPIENTS = ("trust_lead", "chief_executive", "medical_director", "regulator", "audit_team", "alliance_lead")
OVERDUE_ACTIONS = ("reminder", "escalate")
#: Whose bank holidays are skipped (outliers.workdays knows each calendar).
COUNTRIES = ("England", "Wales")
REPORTING_LATEST, REPORTING_ALL = "latest", "all"
CLOSED = "closed"

POLICY_KEYS = frozenset({"extends", "track", "levels", "directions", "reporting_period", "country", "stages"})
BASE_KEYS = frozenset({"title", "track", "note", "tracks"})
TRACK_KEYS = frozenset({"name", "levels", "directions", "stages"})
STAGE_KEYS = frozenset({"name", "title", "owner", "working_days", "notify", "on_overdue", "outcomes"})
STAGE_OVERRIDE_KEYS = STAGE_KEYS - {"name"}
OVERDUE_KEYS = frozenset({"after_working_days", "action", "notify"})


@dataclass(frozen=True)
class OverdueStep:
    """``after_working_days`` past the stage's due date: send a reminder, or escalate, to ``notify``."""

    after_working_days: int
    action: str
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    owner: str
    working_days: int | None  # None: no deadline
    notify: tuple[str, ...]
    on_overdue: tuple[OverdueStep, ...]
    outcomes: tuple[tuple[str, str], ...]  # (outcome, next stage name or "closed:<outcome>")

    def target(self, outcome: str) -> str:
        """Where ``outcome`` leads: a stage name or ``closed:<outcome>``; KeyError if the stage has no such outcome."""
        return dict(self.outcomes)[outcome]


@dataclass(frozen=True)
class Track:
    """The stages of a case opened by one of ``levels`` in one of ``directions``, in order."""

    name: str
    levels: tuple[str, ...]
    directions: tuple[str, ...]
    stages: tuple[Stage, ...]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def first(self) -> Stage:
        return self.stages[0]


@dataclass(frozen=True)
class Policy:
    base: str
    track: str
    levels: tuple[str, ...]
    directions: tuple[str, ...]
    reporting_period: str
    country: str
    tracks: tuple[Track, ...]

    def track_for(self, level: str, direction: str) -> Track | None:
        """The track a case of this level and direction follows; None when the policy opens no case for it."""
        if level not in self.levels or direction not in self.directions:
            return None
        for track in self.tracks:
            if level in track.levels and direction in track.directions:
                return track
        return None

    def as_json(self) -> dict[str, Any]:
        """A snapshot (stored on each case, so a later change of the file leaves open cases as they were)."""
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        """The policy of a snapshot written by ``as_json``."""
        tracks = tuple(
            Track(
                name=t["name"],
                levels=tuple(t["levels"]),
                directions=tuple(t["directions"]),
                stages=tuple(
                    Stage(
                        name=s["name"],
                        title=s["title"],
                        owner=s["owner"],
                        working_days=s["working_days"],
                        notify=tuple(s["notify"]),
                        on_overdue=tuple(
                            OverdueStep(o["after_working_days"], o["action"], tuple(o["notify"]))
                            for o in s["on_overdue"]
                        ),
                        outcomes=tuple((o, target) for o, target in s["outcomes"]),
                    )
                    for s in t["stages"]
                ),
            )
            for t in data["tracks"]
        )
        return cls(
            base=data["base"],
            track=data["track"],
            levels=tuple(data["levels"]),
            directions=tuple(data["directions"]),
            reporting_period=data["reporting_period"],
            country=data["country"],
            tracks=tracks,
        )


def _failing(file: str, where: str) -> Fail:
    def fail(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
        return DefinitionError(problem, file=file, entry=f"{where}, {entry}" if entry else where, key=key)

    return fail


def base_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in BASE_DIR.glob("*.yaml")))


@lru_cache(maxsize=8)
def _read_base(name: str) -> Any:
    path = BASE_DIR / f"{name}.yaml"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"cannot be read as YAML: {exc}", file=path.name) from exc


def parse_policy(definition: AuditDefinition) -> Policy:
    """The audit's outlier policy: its ``outlier_policy`` over the base it extends, checked."""
    raw = definition.outlier_policy if definition.outlier_policy is not None else {}
    return policy_from(raw, origin=definition.source or definition.code)


def policy_from(raw: Any, origin: str = "definition") -> Policy:
    """Check an ``outlier_policy`` mapping (as written in a definition file) and build the policy."""
    fail = _failing(origin, "outlier_policy")
    if not isinstance(raw, dict):
        raise fail("must be a mapping (README, 'Outlier process')")
    check_keys(raw, POLICY_KEYS, fail, "")
    track = raw.get("track")
    if track is not None and track not in TRACKS:
        raise fail(f"track must be one of {', '.join(TRACKS)}", "track")
    base_name = raw.get("extends", DEFAULT_BASE if track in (None, "formal") else "supportive_contact")
    if base_name not in base_names():
        raise fail(f"extends must name a shipped base policy: {', '.join(base_names())}", "extends")
    base = _parse_base(base_name)
    if track is not None and track != base["track"]:
        raise fail(f"track {track} does not match the base {base_name}, whose track is {base['track']}", "track")
    levels = _choices(raw.get("levels", ["alarm"]), LEVELS, fail, "levels")
    directions = _choices(raw.get("directions", ["worse", "better"]), DIRECTIONS, fail, "directions")
    period = raw.get("reporting_period", REPORTING_LATEST)
    if not isinstance(period, str) or not period.strip():
        raise fail(
            f"reporting_period must be {REPORTING_LATEST}, {REPORTING_ALL} or a period label", "reporting_period"
        )
    country = raw.get("country", "England")
    if country not in COUNTRIES:
        raise fail(f"country must be one of {', '.join(COUNTRIES)}", "country")
    tracks = base["tracks"]
    overrides = raw.get("stages") or {}
    if not isinstance(overrides, dict):
        raise fail("stages must be a mapping of stage name: the keys to change", "stages")
    if overrides:
        tracks = _override(tracks, overrides, fail)
    for level in levels:
        for direction in directions:
            if not any(level in t["levels"] and direction in t["directions"] for t in tracks):
                raise fail(f"the base {base_name} has no track for {level} {direction} results", "levels")
    return Policy(
        base=base_name,
        track=base["track"],
        levels=levels,
        directions=directions,
        reporting_period=period.strip(),
        country=country,
        tracks=tuple(_parse_track(t, _failing(origin, f"outlier_policy, track {t['name']}")) for t in tracks),
    )


def _parse_base(name: str) -> dict[str, Any]:
    """A base file, checked to its tracks' shape (each track's stages are checked as the policy is built)."""
    raw = _read_base(name)
    fail = _failing(f"{name}.yaml", "base policy")
    if not isinstance(raw, dict):
        raise fail("must be a mapping with track and tracks")
    check_keys(raw, BASE_KEYS, fail, "")
    if raw.get("track") not in TRACKS:
        raise fail(f"track must be one of {', '.join(TRACKS)}", "track")
    tracks = raw.get("tracks")
    if not isinstance(tracks, list) or not tracks:
        raise fail("tracks must be a list of tracks", "tracks")
    names: set[str] = set()
    for index, track in enumerate(tracks, start=1):
        if not isinstance(track, dict) or not isinstance(track.get("name"), str):
            raise fail("must be a mapping with a name", f"track {index}")
        check_keys(track, TRACK_KEYS, fail, f"track {track['name']}")
        if track["name"] in names:
            raise fail(f"track {track['name']} is declared twice", "tracks")
        names.add(track["name"])
        # Checked here too, so a base whose tracks overlap is refused whatever an audit asks of it.
        _parse_track(track, _failing(f"{name}.yaml", f"track {track['name']}"))
    return raw


def _override(tracks: list[dict[str, Any]], overrides: dict[str, Any], fail: Fail) -> list[dict[str, Any]]:
    """The base's tracks with the keys of the named stages replaced."""
    known = {str(stage["name"]) for track in tracks for stage in track["stages"]}  # the base was checked
    for name, change in overrides.items():
        if name not in known:
            raise fail(f"the base has no stage {name!r} (its stages: {', '.join(sorted(known))})", "stages", str(name))
        if not isinstance(change, dict):
            raise fail("must be a mapping of the stage's keys to change", f"stages, {name}")
        check_keys(change, STAGE_OVERRIDE_KEYS, fail, f"stages, {name}")
    return [
        {**track, "stages": [{**stage, **overrides.get(stage.get("name"), {})} for stage in track["stages"]]}
        for track in tracks
    ]


def _choices(value: Any, allowed: tuple[str, ...], fail: Fail, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(f"{key} must be a list of {', '.join(allowed)}", key)
    for item in value:
        if item not in allowed:
            raise fail(f"unknown {key[:-1]} {item!r} (allowed: {', '.join(allowed)})", key)
    return tuple(dict.fromkeys(value))


def _parse_track(raw: dict[str, Any], fail: Fail) -> Track:
    levels = _choices(raw.get("levels"), LEVELS, fail, "levels")
    directions = _choices(raw.get("directions"), DIRECTIONS, fail, "directions")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise fail("stages must be a list of stages", "stages")
    names = [s.get("name") if isinstance(s, dict) else None for s in stages_raw]
    stages = tuple(_parse_stage(s, index, set(names), fail) for index, s in enumerate(stages_raw, start=1))
    if len(set(names)) != len(names):
        raise fail("two stages have the same name", "stages")
    return Track(name=str(raw["name"]), levels=levels, directions=directions, stages=stages)


def _parse_stage(raw: Any, index: int, names: set[Any], fail: Fail) -> Stage:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise fail("must be a mapping with a name", f"stage {index}")
    where = f"stage {raw['name']}"
    check_keys(raw, STAGE_KEYS, fail, where)
    owner = raw.get("owner")
    if owner not in OWNERS:
        raise fail(f"unknown owner {owner!r} (allowed: {', '.join(OWNERS)})", f"{where}, owner")
    days = raw.get("working_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 0):
        raise fail("working_days must be a whole number of days, or null for no deadline", f"{where}, working_days")
    notify = _recipients(raw.get("notify") or [], fail, f"{where}, notify")
    steps_raw = raw.get("on_overdue") or []
    if not isinstance(steps_raw, list):
        raise fail("on_overdue must be a list of steps", f"{where}, on_overdue")
    steps = []
    for number, step in enumerate(steps_raw, start=1):
        step_where = f"{where}, on_overdue[{number}]"
        if not isinstance(step, dict):
            raise fail("must be a mapping with after_working_days, action and notify", step_where)
        check_keys(step, OVERDUE_KEYS, fail, step_where)
        after = step.get("after_working_days", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise fail("after_working_days must be a whole number of days", step_where)
        if step.get("action") not in OVERDUE_ACTIONS:
            raise fail(f"action must be one of {', '.join(OVERDUE_ACTIONS)}", step_where)
        steps.append(OverdueStep(after, step["action"], _recipients(step.get("notify") or [], fail, step_where)))
    if steps and days is None:
        raise fail("on_overdue needs working_days (a stage without a deadline is never overdue)", where)
    outcomes_raw = raw.get("outcomes")
    if not isinstance(outcomes_raw, dict) or not outcomes_raw:
        raise fail("outcomes must be a mapping of outcome: next stage or closed:<outcome>", f"{where}, outcomes")
    outcomes = []
    for outcome, target in outcomes_raw.items():
        target = str(target)
        closes = target == CLOSED or target.startswith(f"{CLOSED}:")
        if not closes and (target not in names or target == raw["name"]):
            raise fail(
                f"outcome {outcome} leads to {target!r}: name another stage of the track or closed:<outcome>",
                f"{where}, outcomes",
                str(outcome),
            )
        outcomes.append((str(outcome), target))
    return Stage(
        name=raw["name"],
        title=str(raw.get("title") or raw["name"].replace("_", " ")),
        owner=owner,
        working_days=days,
        notify=notify,
        on_overdue=tuple(steps),
        outcomes=tuple(outcomes),
    )


def _recipients(value: Any, fail: Fail, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise fail(f"notify must be a list of {', '.join(RECIPIENTS)}", where)
    for item in value:
        if item not in RECIPIENTS:
            raise fail(f"unknown recipient {item!r} (allowed: {', '.join(RECIPIENTS)})", where)
    return tuple(value)


def closing_outcome(target: str) -> str | None:
    """The outcome a ``closed:<outcome>`` target records (``closed`` alone: "closed"); None for a stage name."""
    if target == CLOSED:
        return CLOSED
    if target.startswith(f"{CLOSED}:"):
        return target.split(":", 1)[1]
    return None
