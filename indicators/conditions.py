"""The condition language of indicator definitions: one small class per form, parsed once.

A condition is a small declarative expression over extract columns:

    {column: stage, in: ["1", "2"]}          {column: age, at_least: 18}
    {column: major_resection, equals: true}  {column: performance_status, present: true}
    {event_within: {event: death_date, start: surgery_date, days: 90}}
    {followed_up: {start: diagnosis_date, days: 730}}   # start + days on or before the extract date
    {days_between: {start: decision_to_treat_date, end: treatment_date, at_most: 31}}   # and/or at_least
    {all: [...]}   {any: [...]}   {not: {...}}

A missing value satisfies no comparison (only ``present: false``).

Each form is a class, found by its key in ``FORMS`` (a comparison by its key in ``COMPARISONS``); it
knows how to

- ``parse`` itself from the definition as written (its keys and shape), once, when the definition is read;
- ``check`` itself against the extract's columns at start-up, with the rules a definition file must meet
  (a condition built in code, e.g. by ``indicators.compute.indicator._ignoring``, is parsed but not checked);
- ``mask`` the rows of a frame that meet it, vectorised;
- list the ``columns`` it reads;
- say until when the patients it selects are ``followed_up_until`` (only ``followed_up`` and ``all`` answer).

A new operator is one class here and its entry in ``FORMS`` or ``COMPARISONS``.

Parsing and checking need only the standard library: numpy and pandas are imported when a condition is
evaluated, so the start-up check of definitions (``indicators/checks.py``) stays light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from audits.schema import Column, DefinitionError, Fail, check_keys

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Condition(ABC):
    """One parsed condition. ``path`` names it within its indicator (e.g. "denominator.all[2]"): the
    entry that ``check`` names when it refuses the condition."""

    key: ClassVar[str]  # the key the form is written with
    path: str

    @classmethod
    @abstractmethod
    def parse(cls, spec: Mapping[str, Any], fail: Fail, path: str) -> Condition:
        """The condition written as ``spec`` (a mapping whose form key is ``cls.key``)."""

    @abstractmethod
    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        """Refuse what the extract's ``columns`` cannot answer, naming ``self.path``."""

    @abstractmethod
    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        """A boolean array: which rows of ``frame`` meet the condition."""

    @abstractmethod
    def columns(self) -> Iterator[str]:
        """The extract columns the condition reads."""

    def followed_up_until(self, start: str, extract_date: date) -> date | None:
        """The latest date in column ``start`` whose patients the condition requires to be followed up far
        enough by ``extract_date``; None when it requires no follow-up from ``start`` of every patient it
        selects (``any`` may be met by another part, ``not`` asks the opposite)."""
        return None


def _in_code(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
    """The errors of a condition built in code: no file, no indicator."""
    return DefinitionError(problem, entry=entry, key=key)


def parse_condition(spec: Any, fail: Fail = _in_code, path: str = "") -> Condition:
    """Read a condition as written; ``fail`` builds the errors of its file and indicator, ``path``
    names it within the indicator (e.g. "denominator.all[2]")."""
    if not isinstance(spec, dict) or len(spec) == 0:
        raise fail(f"a condition must be a mapping, not {spec!r}", path)
    check_keys(spec, CONDITION_KEYS, fail, path)
    forms = [key for key in spec if key in FORMS]
    if not forms:
        raise fail(f"a condition needs one of {', '.join(FORMS)}", path)
    form = forms[0]
    for key in spec:
        if key != form and not (form == Comparison.key and key in COMPARISONS):
            raise fail(f"'{key}' does not go with '{form}'", path, key)
    return FORMS[form].parse(spec, fail, path)


def evaluate(condition: Condition | Mapping[str, Any], frame: pd.DataFrame, extract_date: date) -> np.ndarray:
    """Boolean mask of the rows meeting ``condition``: parsed, or as written (a condition built in code)."""
    parsed = condition if isinstance(condition, Condition) else parse_condition(condition)
    return parsed.mask(frame, extract_date)


# Combinators


@dataclass(frozen=True)
class Combination(Condition):
    """``{all: [...]}`` or ``{any: [...]}``: a non-empty list of conditions. An empty list is only ever built
    in code (``indicators.compute.indicator._ignoring``): ``all`` of none is everyone, ``any`` of none no one."""

    parts: tuple[Condition, ...]

    @classmethod
    def parse(cls, spec: Mapping[str, Any], fail: Fail, path: str) -> Condition:
        parts = spec[cls.key]
        if not isinstance(parts, list):
            raise fail(f"'{cls.key}' takes a non-empty list of conditions", path)
        where = f"{path}.{cls.key}"
        return cls(path, tuple(parse_condition(part, fail, f"{where}[{n}]") for n, part in enumerate(parts, start=1)))

    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        if not self.parts:
            raise fail(f"'{self.key}' takes a non-empty list of conditions", self.path)
        for part in self.parts:
            part.check(columns, fail)

    def columns(self) -> Iterator[str]:
        for part in self.parts:
            yield from part.columns()


class All(Combination):
    key = "all"

    def followed_up_until(self, start: str, extract_date: date) -> date | None:
        """The earliest of its parts' dates: every part must be met."""
        dates = [until for part in self.parts if (until := part.followed_up_until(start, extract_date))]
        return min(dates, default=None)

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        import numpy as np

        everyone = np.ones(len(frame), dtype=bool)
        return np.logical_and.reduce([everyone, *(part.mask(frame, extract_date) for part in self.parts)])


class AnyOf(Combination):
    key = "any"

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        import numpy as np

        no_one = np.zeros(len(frame), dtype=bool)
        return np.logical_or.reduce([no_one, *(part.mask(frame, extract_date) for part in self.parts)])


@dataclass(frozen=True)
class Not(Condition):
    """``{not: {...}}``."""

    key = "not"
    part: Condition

    @classmethod
    def parse(cls, spec: Mapping[str, Any], fail: Fail, path: str) -> Condition:
        return cls(path, parse_condition(spec[cls.key], fail, f"{path}.{cls.key}"))

    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        self.part.check(columns, fail)

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        return ~self.part.mask(frame, extract_date)

    def columns(self) -> Iterator[str]:
        return self.part.columns()


# Time tests: {form: {named arguments}}


@dataclass(frozen=True)
class TimeTest(Condition):
    """A test on dates written as a mapping of named arguments, ``{key: {name: value, ...}}``."""

    names: ClassVar[frozenset[str]]  # the arguments it takes
    dates: ClassVar[tuple[str, ...]]  # those naming a date column: the columns it reads
    day_counts: ClassVar[tuple[str, ...]] = ()  # those that must be a whole number of days
    arguments: Mapping[str, Any]

    @classmethod
    def parse(cls, spec: Mapping[str, Any], fail: Fail, path: str) -> Condition:
        arguments = spec[cls.key]
        if not isinstance(arguments, dict):
            raise fail(f"{cls.key} must be a mapping of {', '.join(sorted(cls.names))}", path)
        check_keys(arguments, cls.names, fail, cls.where(path))
        return cls(path, arguments)

    @classmethod
    def where(cls, path: str) -> str:
        """The entry its errors name: its arguments, e.g. "numerator.event_within"."""
        return f"{path}.{cls.key}"

    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        """Refuse ``dates`` that name no date column of the extract and ``day_counts`` that are no whole number
        of days (a form checks its other arguments itself)."""
        for name in self.dates:
            value = self.arguments.get(name)
            if not isinstance(value, str) or value not in columns or columns[value].type != "date":
                raise fail(f"{self.key}.{name} must name a date column", self.where(self.path))
        for name in self.day_counts:
            value = self.arguments.get(name)
            if not isinstance(value, int) or value < 0:
                raise fail(f"{self.key}.{name} must be a whole number of days", self.where(self.path))

    def columns(self) -> Iterator[str]:
        for name in self.dates:
            yield self.arguments[name]


class EventWithin(TimeTest):
    """``{event_within: {event: D1, start: D2, days: N}}``: D1 on or after D2 and at most N days later."""

    key = "event_within"
    names = frozenset({"event", "start", "days"})
    dates = ("event", "start")
    day_counts = ("days",)

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        gap = (frame[self.arguments["event"]] - frame[self.arguments["start"]]).dt.days
        return ((gap >= 0) & (gap <= self.arguments["days"])).fillna(False).to_numpy(dtype=bool)


class FollowedUp(TimeTest):
    """``{followed_up: {start: D, days: N}}``: D + N days on or before the extract date."""

    key = "followed_up"
    names = frozenset({"start", "days"})
    dates = ("start",)
    day_counts = ("days",)

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        import pandas as pd

        end = pd.Timestamp(extract_date) - pd.Timedelta(days=self.arguments["days"])
        return (frame[self.arguments["start"]] <= end).fillna(False).to_numpy(dtype=bool)

    def followed_up_until(self, start: str, extract_date: date) -> date | None:
        return extract_date - timedelta(days=int(self.arguments["days"])) if self.arguments["start"] == start else None


class DaysBetween(TimeTest):
    """``{days_between: {start: D1, end: D2, at_most: N}}`` (and/or ``at_least: N``): the whole days from
    D1 to D2 are within the bounds, e.g. first treatment within 31 days of the decision to treat (NHS
    England, Cancer Waiting Times: https://www.england.nhs.uk/statistics/statistical-work-areas/cancer-waiting-times/).

    Both dates must be recorded: a missing date meets no bound. An end before its start (a negative
    interval, a recording error) meets no bound either, so ``at_least: 0`` selects the patients with a
    usable interval (for a denominator) and ``at_most: 31`` those treated in time (for a numerator).
    """

    key = "days_between"
    names = frozenset({"start", "end", "at_most", "at_least"})
    dates = ("start", "end")
    bounds = ("at_least", "at_most")

    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        super().check(columns, fail)
        given = [bound for bound in self.bounds if bound in self.arguments]
        if not given:
            raise fail(f"{self.key} needs at_most, at_least or both", self.where(self.path))
        for bound in given:
            value = self.arguments[bound]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise fail(f"{self.key}.{bound} must be a whole number of days", self.where(self.path), bound)
        if len(given) == 2 and self.arguments["at_least"] > self.arguments["at_most"]:
            raise fail(
                f"{self.key}.at_least must not be above at_most: no patient could meet it", self.where(self.path)
            )

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        days = (frame[self.arguments["end"]] - frame[self.arguments["start"]]).dt.days
        met = days >= self.arguments.get("at_least", 0)
        if "at_most" in self.arguments:
            met = met & (days <= self.arguments["at_most"])
        return met.fillna(False).to_numpy(dtype=bool)


# Comparisons: {column: C, <comparison>: V}


@dataclass(frozen=True)
class Comparison(Condition):
    """``{column: C, <comparison>: V}``, the comparison one of ``COMPARISONS``. A missing value meets
    no comparison; only ``present: false`` selects it."""

    key = "column"
    on_codes: ClassVar[bool] = False  # V is a code (or a list of codes) of a code column
    column: str
    value: Any

    @classmethod
    def parse(cls, spec: Mapping[str, Any], fail: Fail, path: str) -> Condition:
        tests = [key for key in spec if key != cls.key]
        if len(tests) != 1:
            raise fail(f"a condition on {spec[cls.key]} needs exactly one of {', '.join(COMPARISONS)}", path)
        return COMPARISONS[tests[0]](path, spec[cls.key], spec[tests[0]])

    def check(self, columns: Mapping[str, Column], fail: Fail) -> None:
        if not isinstance(self.column, str) or self.column not in columns:
            raise fail(f"condition column {self.column!r} is not in the extract", self.path)
        column = columns[self.column]
        if self.on_codes and column.type == "code":
            values = self.value if isinstance(self.value, list) else [self.value]
            unknown = [v for v in values if str(v) not in column.codes]
            if unknown:
                raise fail(f"{unknown} are not codes of {self.column} ({', '.join(column.codes)})", self.path)

    def columns(self) -> Iterator[str]:
        yield self.column


class OfValues(Comparison):
    """A comparison of the recorded values: a missing value meets none."""

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        import pandas as pd

        series = frame[self.column]
        return pd.Series(self.hit(series)).fillna(False).to_numpy(dtype=bool) & series.notna().to_numpy(dtype=bool)

    @abstractmethod
    def hit(self, series: pd.Series) -> pd.Series:
        """Where the values of ``series`` meet the comparison (its missing values are dropped by ``mask``)."""

    def like(self, series: pd.Series, value: Any) -> Any:
        """Compare codes as text (YAML reads 1 as a number, the extract stores "1")."""
        import pandas as pd

        if isinstance(value, bool) or not (pd.api.types.is_string_dtype(series) or series.dtype == object):
            return value
        return str(value)


class Equals(OfValues):
    key = "equals"
    on_codes = True

    def hit(self, series: pd.Series) -> pd.Series:
        return series == self.like(series, self.value)


class In(OfValues):
    key = "in"
    on_codes = True

    def hit(self, series: pd.Series) -> pd.Series:
        return series.isin([self.like(series, v) for v in self.value])


class NotIn(In):
    key = "not_in"

    def hit(self, series: pd.Series) -> pd.Series:
        return ~super().hit(series)


class Present(Comparison):
    """``present: true`` selects the recorded values, ``present: false`` the missing ones."""

    key = "present"

    def mask(self, frame: pd.DataFrame, extract_date: date) -> np.ndarray:
        present = frame[self.column].notna().to_numpy(dtype=bool)
        return present if self.value else ~present


class AtLeast(OfValues):
    key = "at_least"

    def hit(self, series: pd.Series) -> pd.Series:
        return series >= self.value


class AtMost(OfValues):
    key = "at_most"

    def hit(self, series: pd.Series) -> pd.Series:
        return series <= self.value


# The registries: a condition's form by its key (``column`` last: the other keys name their form), and
# the comparison that goes with ``column``.
FORMS: dict[str, type[Condition]] = {
    form.key: form for form in (All, AnyOf, Not, EventWithin, FollowedUp, DaysBetween, Comparison)
}
COMPARISONS: dict[str, type[Comparison]] = {c.key: c for c in (Equals, In, NotIn, Present, AtLeast, AtMost)}
CONDITION_KEYS = frozenset({*FORMS, *COMPARISONS})
