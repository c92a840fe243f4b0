"""A definition's ``demo:`` section: how the demo generator draws each column (docs/adding-an-audit.md).

The section is optional: without it every column is drawn from its type, codes, range and the file's rules alone.
With it, an author declares volumes, national rates, case-mix effects (log-odds, or latent shifts for ordered
codes) and trusts planted as truly worse or better. Checked as strictly as the rest of the file (an unknown key
is refused, naming the entry and the key). Pure Python: this module is loaded at start-up with the definitions,
so it imports no numerical library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audits.schema import Column, Fail, Rule

DEMO_KEYS = frozenset({"rows", "trusts", "columns"})
# Keys every column model may use, then the keys of each column type.
COMMON_KEYS = frozenset({"when", "otherwise", "blank", "blank_trust_sd", "effects", "trust_sd"})
TYPE_KEYS = {
    "boolean": frozenset({"rate", "planted"}),
    "code": frozenset({"shares", "ordered"}),
    "integer": frozenset({"shares", "mean", "sd", "min", "max"}),
    "decimal": frozenset({"mean", "sd", "min", "max"}),
    "date": frozenset({"start", "days", "typical", "events", "after"}),
    "text": frozenset(),
}
EVENT_KEYS = frozenset({"start", "days", "rate", "effects", "trust_sd", "planted"})
PLANTED_KEYS = frozenset({"indicator", "worse", "better"})
PLANTED_SIDE_KEYS = frozenset({"trusts", "odds_ratio"})
PLANTED_DEFAULTS = {"worse": 2.5, "better": 0.45}
DEFAULT_ROWS = 20_000
DEFAULT_BLANK = 0.01  # a column that is not required is left blank this often unless its model says otherwise


@dataclass(frozen=True)
class Effect:
    """One column's shift of a log-odds (or of an ordered latent scale): per unit above the national mean, or by
    value (codes, ``true``/``false``, integers as text)."""

    column: str
    per_unit: float = 0.0
    by_value: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Planted:
    """Trusts made truly worse or better on an outcome: their log-odds shifted by log(odds ratio)."""

    indicator: str
    worse: int = 0
    worse_odds_ratio: float = PLANTED_DEFAULTS["worse"]
    better: int = 0
    better_odds_ratio: float = PLANTED_DEFAULTS["better"]


@dataclass(frozen=True)
class Event:
    """A date drawn within ``days`` of ``start`` with probability ``rate`` (calibrated over those with a start)."""

    start: str
    days: int
    rate: float
    effects: tuple[Effect, ...] = ()
    trust_sd: float = 0.0
    planted: Planted | None = None


@dataclass(frozen=True)
class ColumnModel:
    column: str
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    otherwise: str | None = None
    blank: float | None = None
    blank_trust_sd: float = 0.0
    effects: tuple[Effect, ...] = ()
    code_effects: tuple[tuple[str, tuple[Effect, ...]], ...] = ()  # unordered codes: effects on each code's odds
    trust_sd: float = 0.0
    rate: float | None = None
    planted: Planted | None = None
    shares: tuple[tuple[str, float], ...] = ()
    ordered: bool = False
    mean: float | None = None
    sd: float | None = None
    min: float | None = None
    max: float | None = None
    start: str | None = None
    days: tuple[int, int] | None = None
    typical: float | None = None
    events: tuple[Event, ...] = ()
    after: float | None = None

    def references(self) -> set[str]:
        """The columns this model reads."""
        found = {name for name, _ in self.when}
        found |= {e.column for e in self.effects}
        found |= {e.column for _, effects in self.code_effects for e in effects}
        if self.start:
            found.add(self.start)
        for event in self.events:
            found.add(event.start)
            found |= {e.column for e in event.effects}
        return found

    @property
    def planted_all(self) -> tuple[Planted, ...]:
        return tuple(p for p in (self.planted, *(e.planted for e in self.events)) if p is not None)


@dataclass(frozen=True)
class DemoSpec:
    rows: int = DEFAULT_ROWS
    trusts: tuple[tuple[str, float], ...] = ()  # trust code -> volume relative to a median trust (0: not in it)
    columns: tuple[ColumnModel, ...] = ()

    def model(self, name: str) -> ColumnModel | None:
        return next((m for m in self.columns if m.column == name), None)

    @property
    def planted(self) -> tuple[Planted, ...]:
        return tuple(p for m in self.columns for p in m.planted_all)


def _check_keys(mapping: Mapping[str, Any], allowed: frozenset[str], fail: Fail, entry: str) -> None:
    from audits.schema import check_keys

    check_keys(mapping, allowed, fail, entry)


def _number(
    value: Any, fail: Fail, entry: str, key: str, *, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"'{key}' must be a number", entry, key)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"from {low}" if high is None else f"between {low} and {high}"
        raise fail(f"'{key}' must be {bounds}", entry, key)
    return float(value)


def _share(value: Any, fail: Fail, entry: str, key: str) -> float:
    share = _number(value, fail, entry, key, low=0.0, high=1.0)
    if share in (0.0, 1.0) and key == "rate":
        raise fail("'rate' must be above 0 and below 1", entry, key)
    return share


def parse_demo(
    raw: Any,
    columns: Mapping[str, Column],
    rules: tuple[Rule, ...],
    roles: tuple[str, str, str],
    indicators: set[str],
    fail: Fail,
) -> DemoSpec:
    """Check a ``demo:`` section against the file's columns, rules and indicators; ``roles`` are the patient,
    provider and diagnosis-date columns, which the generator draws itself."""
    if not isinstance(raw, dict):
        raise fail("'demo' must be a mapping (docs/adding-an-audit.md, 'The demo section')", "demo")
    _check_keys(raw, DEMO_KEYS, fail, "demo")
    rows = raw.get("rows", DEFAULT_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise fail("'rows' must be a whole number of patients, at least 1", "demo", "rows")
    trusts = raw.get("trusts") or {}
    if not isinstance(trusts, dict):
        raise fail("'trusts' must map trust codes to a volume relative to a median trust", "demo", "trusts")
    scales = tuple((str(code), _number(v, fail, "demo, trusts", str(code), low=0.0)) for code, v in trusts.items())
    entries = raw.get("columns") or {}
    if not isinstance(entries, dict):
        raise fail("'columns' must map column names to their models", "demo", "columns")
    models = []
    for name, entry in entries.items():
        where = f"demo, column {name}"
        if name not in columns:
            raise fail(f"column {name!r} is not declared in the extract", "demo, columns", str(name))
        if name in roles or columns[name].type == "provider":
            raise fail(f"column {name} is drawn by the generator itself (patients, trusts, diagnosis dates)", where)
        models.append(_parse_model(name, entry, columns, indicators, fail, where))
    spec = DemoSpec(rows=rows, trusts=scales, columns=tuple(models))
    seen: set[str] = set()
    for planted in spec.planted:
        if planted.indicator in seen:
            raise fail(f"indicator {planted.indicator} has trusts planted twice", "demo")
        seen.add(planted.indicator)
    generation_order(columns, rules, spec, roles, fail)
    return spec


def _parse_model(
    name: str, entry: Any, columns: Mapping[str, Column], indicators: set[str], fail: Fail, where: str
) -> ColumnModel:
    from audits.schema import _parse_when

    column = columns[name]
    if not isinstance(entry, dict):
        raise fail("a column model must be a mapping (rate, shares, effects, ...)", where)
    allowed = COMMON_KEYS | TYPE_KEYS.get(column.type, frozenset())
    _check_keys(entry, COMMON_KEYS.union(*TYPE_KEYS.values()), fail, where)
    for key in entry:
        if key not in allowed:
            raise fail(f"'{key}' does not apply to {column.type} columns", where, key)
    values: dict[str, Any] = {"column": name}
    if entry.get("when") is not None:
        values["when"] = _parse_when(entry["when"], columns, fail, f"{where}, when", "when must be a")
    if "otherwise" in entry:
        if column.type != "code" or str(entry["otherwise"]) not in column.codes:
            raise fail("'otherwise' must be one of the column's codes (a boolean is false outside 'when')", where)
        values["otherwise"] = str(entry["otherwise"])
    if "blank" in entry:
        values["blank"] = _number(entry["blank"], fail, where, "blank", low=0.0, high=0.9)
    for key in ("blank_trust_sd", "trust_sd"):
        if key in entry:
            values[key] = _number(entry[key], fail, where, key, low=0.0, high=5.0)
    if "rate" in entry:
        values["rate"] = _share(entry["rate"], fail, where, "rate")
    if "planted" in entry:
        values["planted"] = _parse_planted(entry["planted"], indicators, fail, where)
    if "shares" in entry:
        values["shares"] = _parse_shares(entry["shares"], column, fail, where)
    if "ordered" in entry:
        if not isinstance(entry["ordered"], bool):
            raise fail("'ordered' must be true or false", where, "ordered")
        values["ordered"] = entry["ordered"]
    for key in ("mean", "sd", "min", "max", "typical", "after"):
        if key in entry:
            values[key] = _number(entry[key], fail, where, key, low=0.0 if key in ("sd", "after") else None)
    if "start" in entry:
        values["start"] = _date_column(entry["start"], columns, fail, where, "start")
    if "days" in entry:
        values["days"] = _days(entry["days"], fail, where)
    if "events" in entry:
        if not isinstance(entry["events"], list) or not entry["events"]:
            raise fail("'events' must be a list of {start, days, rate}", where, "events")
        values["events"] = tuple(
            _parse_event(event, columns, indicators, fail, f"{where}, event {i}")
            for i, event in enumerate(entry["events"], start=1)
        )
    if "effects" in entry:
        if column.type == "code" and not values.get("ordered"):
            values["code_effects"] = _parse_code_effects(entry["effects"], column, columns, fail, where)
        else:
            values["effects"] = _parse_effects(entry["effects"], columns, fail, f"{where}, effects")
    if column.type == "code" and column.required and values.get("when") and "otherwise" not in values:
        raise fail("a required code column with 'when' needs 'otherwise' (its code outside 'when')", where)
    if column.type in ("integer", "decimal") and column.required and values.get("when"):
        raise fail("a required column cannot be limited by 'when'", where)
    if values.get("ordered") and not values.get("shares"):
        raise fail("an ordered code needs 'shares'", where)
    if values.get("days") and values.get("typical") is not None:
        low, high = values["days"]
        if not low <= values["typical"] <= high:
            raise fail("'typical' must lie within 'days'", where, "typical")
    return ColumnModel(**values)


def _date_column(value: Any, columns: Mapping[str, Column], fail: Fail, where: str, key: str) -> str:
    if value not in columns or columns[value].type != "date":
        raise fail(f"'{key}' must name a date column of the extract", where, key)
    return str(value)


def _days(value: Any, fail: Fail, where: str) -> tuple[int, int]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
    if not ok or not -3650 <= value[0] <= value[1] <= 3650:
        raise fail("'days' must be [fewest, most] whole days after the start (fewest may be below 0)", where, "days")
    return int(value[0]), int(value[1])


def _parse_shares(raw: Any, column: Column, fail: Fail, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, dict) or not raw:
        raise fail("'shares' must map each value to its share", where, "shares")
    allowed = _values_of(column)
    shares = []
    for value, share in raw.items():
        if allowed is not None and str(value) not in allowed:
            raise fail(f"{value!r} is not a value of {column.name}", f"{where}, shares", str(value))
        shares.append((str(value), _number(share, fail, f"{where}, shares", str(value), low=0.0)))
    if sum(s for _, s in shares) <= 0:
        raise fail("'shares' must not all be 0", where, "shares")
    return tuple(shares)


def _values_of(column: Column) -> set[str] | None:
    """The values a column may take, as text (None: any number)."""
    if column.type == "code":
        return set(column.codes)
    if column.type == "boolean":
        return {"true", "false"}
    if column.type == "integer" and column.min is not None and column.max is not None:
        return {str(v) for v in range(int(column.min), int(column.max) + 1)}
    return None


def _parse_effects(raw: Any, columns: Mapping[str, Column], fail: Fail, where: str) -> tuple[Effect, ...]:
    if not isinstance(raw, dict):
        raise fail("'effects' must map columns to a number (per unit) or to a shift per value", where)
    effects = []
    for name, spec in raw.items():
        if name not in columns:
            raise fail(f"effect column {name!r} is not declared", where, str(name))
        column = columns[name]
        if column.type not in ("code", "boolean", "integer", "decimal"):
            raise fail(f"{name} is a {column.type} column: effects come from codes, booleans and numbers", where, name)
        if isinstance(spec, dict):
            allowed = _values_of(column)
            by_value = []
            for value, shift in spec.items():
                if allowed is None or str(value) not in allowed:
                    raise fail(f"{value!r} is not a value of {name}", f"{where}, {name}", str(value))
                by_value.append((str(value), _number(shift, fail, f"{where}, {name}", str(value))))
            effects.append(Effect(column=name, by_value=tuple(by_value)))
        else:
            if column.type == "code":
                raise fail(f"{name} is a code column: give a shift per code", where, name)
            effects.append(Effect(column=name, per_unit=_number(spec, fail, where, name)))
    return tuple(effects)


def _parse_code_effects(
    raw: Any, column: Column, columns: Mapping[str, Column], fail: Fail, where: str
) -> tuple[tuple[str, tuple[Effect, ...]], ...]:
    if not isinstance(raw, dict):
        raise fail("'effects' of an unordered code map each code to its effects", where, "effects")
    found = []
    for code, effects in raw.items():
        if str(code) not in column.codes:
            raise fail(f"{code!r} is not a code of {column.name}", f"{where}, effects", str(code))
        found.append((str(code), _parse_effects(effects, columns, fail, f"{where}, effects, {code}")))
    return tuple(found)


def _parse_planted(raw: Any, indicators: set[str], fail: Fail, where: str) -> Planted:
    where = f"{where}, planted"
    if not isinstance(raw, dict):
        raise fail("'planted' must be a mapping with indicator, worse and better", where)
    _check_keys(raw, PLANTED_KEYS, fail, where)
    if raw.get("indicator") not in indicators:
        raise fail("'indicator' must name one of the file's indicators", where, "indicator")
    values: dict[str, Any] = {"indicator": raw["indicator"]}
    for side in ("worse", "better"):
        if side not in raw:
            continue
        part = raw[side]
        if not isinstance(part, dict):
            raise fail(f"'{side}' must be a mapping with trusts and odds_ratio", where, side)
        _check_keys(part, PLANTED_SIDE_KEYS, fail, f"{where}, {side}")
        count = part.get("trusts")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10:
            raise fail("'trusts' must be a whole number from 0 to 10", f"{where}, {side}", "trusts")
        values[side] = count
        ratio = _number(
            part.get("odds_ratio", PLANTED_DEFAULTS[side]), fail, f"{where}, {side}", "odds_ratio", low=0.01
        )
        if ratio == 1:
            raise fail(
                f"the odds ratio of {side} trusts must not be 1: it changes nothing", f"{where}, {side}", "odds_ratio"
            )
        values[f"{side}_odds_ratio"] = ratio
    return Planted(**values)


def _parse_event(raw: Any, columns: Mapping[str, Column], indicators: set[str], fail: Fail, where: str) -> Event:
    if not isinstance(raw, dict):
        raise fail("an event must be a mapping with start, days and rate", where)
    _check_keys(raw, EVENT_KEYS, fail, where)
    days = raw.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise fail("'days' must be a whole number of days", where, "days")
    return Event(
        start=_date_column(raw.get("start"), columns, fail, where, "start"),
        days=days,
        rate=_share(raw.get("rate"), fail, where, "rate"),
        effects=_parse_effects(raw.get("effects") or {}, columns, fail, f"{where}, effects"),
        trust_sd=_number(raw.get("trust_sd", 0.0), fail, where, "trust_sd", low=0.0, high=5.0),
        planted=_parse_planted(raw["planted"], indicators, fail, where) if "planted" in raw else None,
    )


def dependencies(columns: Mapping[str, Column], rules: tuple[Rule, ...], spec: DemoSpec | None) -> dict[str, set[str]]:
    """Column -> the columns that must be drawn before it (its model's, its rules' and its applies_when's)."""
    found: dict[str, set[str]] = {name: set() for name in columns}
    for name, column in columns.items():
        found[name] |= {other for other, _ in column.applies_when}
    for rule in rules:
        found[rule.column] |= {other for other, _ in rule.when}
        if rule.reference:
            found[rule.column].add(rule.reference)
    for model in spec.columns if spec else ():
        found[model.column] |= model.references()
    for name in found:
        found[name].discard(name)
    return found


def generation_order(
    columns: Mapping[str, Column],
    rules: tuple[Rule, ...],
    spec: DemoSpec | None,
    roles: tuple[str, str, str],
    fail: Fail | None = None,
) -> list[str]:
    """The columns in an order that draws each after those it reads: the roles first, then the file's order,
    each column as soon as what it reads is drawn. A cycle is refused, naming its columns."""
    needs = dependencies(columns, rules, spec)
    order = [name for name in roles]
    done = set(order)
    pending = [name for name in columns if name not in done]
    while pending:
        ready = next((name for name in pending if needs[name] <= done), None)
        if ready is None:
            cycle = ", ".join(pending)
            message = f"the columns {cycle} read each other in a circle: the demo cannot draw them"
            if fail is None:
                raise ValueError(message)
            raise fail(message, "demo")
        order.append(ready)
        done.add(ready)
        pending.remove(ready)
    return order
