"""Audit definition files: load, check and describe them.

An audit is declared in one YAML file (see README, "Audit definition files").
This module turns a file into frozen dataclasses and refuses a malformed file
with a message naming the file and the entry, so adding an audit needs no Python.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import yaml

from audits.demo.spec import DemoSpec, parse_demo
from audits.ingest.columns import COLUMN_TYPES

RULE_TYPES = ("required_when", "blank_unless", "not_before")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Names the storage layer uses itself.
RESERVED_COLUMNS = {"release_id", "line", "provider_code_submitted"}
# libyaml's safe loader when PyYAML was built with it: the files are read at every start-up.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# The keys a definition file may use at its top level and in ``extract``. A top-level key
# starting with ``x-`` is free for the author (e.g. a home for YAML anchors shared by indicators).
# ``outlier_policy``, ``inequalities`` and ``reporting`` are kept raw here and checked by their parsers
# (indicators.outlier_policy, indicators.inequalities, indicators.reporting). ``plain`` (optional) says what the
# audit looks at in words a nine-year-old can read, for the page for patients and the public. ``demo`` (optional)
# says how the demo generator draws the audit's data (audits.demo.spec; docs/adding-an-audit.md).
TOP_LEVEL_KEYS = frozenset(
    {
        "code",
        "name",
        "short_name",
        "description",
        "plain",
        "extract",
        "indicators",
        "outlier_policy",
        "inequalities",
        "reporting",
        "demo",
    }
)
AUTHOR_KEY_PREFIX = "x-"
EXTRACT_KEYS = frozenset({"patient_id", "provider", "diagnosis_date", "columns", "rules"})


class DefinitionError(ValueError):
    """A definition file is malformed; the message says where and how to fix it.

    ``str()`` is "<file>: <entry>: <problem>"; the parts are kept apart for the system check and
    ``check_definition --json``. ``key`` is the offending key when the problem is a key.
    """

    def __init__(self, problem: str, *, file: str = "", entry: str = "", key: str | None = None) -> None:
        self.problem, self.file, self.entry, self.key = problem, file, entry, key
        super().__init__(": ".join(part for part in (file, entry, problem) if part))

    @property
    def located(self) -> str:
        """The message without the file: "<entry>: <problem>"."""
        return ": ".join(part for part in (self.entry, self.problem) if part)


class Fail(Protocol):
    """Builds the error of one file (and one indicator): ``raise fail(problem, entry, key)``."""

    def __call__(self, problem: str, entry: str = "", key: str | None = None) -> DefinitionError: ...


def check_keys(mapping: Mapping[str, Any], allowed: Collection[str], fail: Fail, entry: str) -> None:
    """Refuse the first key of ``mapping`` not in ``allowed``, suggesting the nearest allowed key."""
    for key in mapping:
        if key not in allowed:
            raise fail(unknown_key(str(key), allowed), entry, str(key))


def unknown_key(key: str, allowed: Collection[str]) -> str:
    """Say "unknown key 'exclusion' (did you mean 'exclusions'?)", or list the allowed keys when none is near."""
    near = difflib.get_close_matches(key, sorted(allowed), n=1)
    if near:
        return f"unknown key '{key}' (did you mean '{near[0]}'?)"
    return f"unknown key '{key}' (allowed: {', '.join(sorted(allowed))})"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a name in audits.ingest.columns.COLUMN_TYPES
    required: bool = False
    unique: bool = False
    description: str = ""
    # The patients the column applies to, as a rule's ``when`` (e.g. {major_resection: true}): the
    # data-quality report measures its completeness among them only. Empty: every patient.
    applies_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    # The keys of the column's type (e.g. an integer's min and max), as the type checked them.
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)

    # The options that are read beyond their type's own code.
    @property
    def codes(self) -> tuple[str, ...]:
        return self.option("codes", ())

    @property
    def unknown_codes(self) -> tuple[str, ...]:
        """Codes that mean "not known" (e.g. stage U): stored as given, counted as not recorded in the
        data-quality report."""
        return self.option("unknown_codes", ())

    @property
    def min(self) -> Any:
        return self.option("min")

    @property
    def max(self) -> Any:
        return self.option("max")

    @property
    def not_after_extract_date(self) -> bool:
        return self.option("not_after_extract_date", False)


# The keys every column entry may use; its type adds its own (audits.ingest.columns).
COLUMN_KEYS = frozenset({"name", "type", "required", "unique", "description", "applies_when"})
ANY_TYPE_KEYS = COLUMN_KEYS.union(*(kind.keys for kind in COLUMN_TYPES.values()))


@dataclass(frozen=True)
class Rule:
    type: str
    column: str
    reference: str | None = None
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def describe_when(self) -> str:
        parts = []
        for name, values in self.when:
            shown = " or ".join(_show(v) for v in values)
            parts.append(f"{name} is {shown}")
        return " and ".join(parts)


# The keys of a rule entry, by rule type.
RULE_KEYS = {
    "required_when": frozenset({"type", "column", "when"}),
    "blank_unless": frozenset({"type", "column", "when"}),
    "not_before": frozenset({"type", "column", "reference"}),
}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class AuditDefinition:
    code: str
    name: str
    short_name: str
    description: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    patient_id: str
    provider: str
    diagnosis_date: str
    indicators: tuple[dict[str, Any], ...] = ()
    outlier_policy: dict[str, Any] | None = None  # as written; None when the file has none
    source: str = ""
    plain: str = ""  # what the audit looks at in plain words (the page for patients); "" when the file has none
    demo: DemoSpec | None = None  # how the demo generator draws the data; None: from the columns and rules alone
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def storage_sha(self) -> str:
        """Hash of the extract layout: rows of one layout share a table."""
        layout = [(c.name, c.type) for c in self.columns]
        return hashlib.sha256(json.dumps(layout).encode()).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()


def load_definition(path: Path | str) -> AuditDefinition:
    """Read and check one definition file: parsed once per process for the same text (the start-up checks, the
    registry and a command each ask for every file; a definition is immutable)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        key = (path.name, text)
        if key not in _PARSED:
            raw = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
            _PARSED[key] = parse_definition(raw, origin=path.name)
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"cannot be read as YAML: {exc}", file=path.name) from exc
    return _PARSED[key]


#: Definitions parsed, by file name and text: a changed file is parsed again, whatever its time stamp.
_PARSED: dict[tuple[str, str], AuditDefinition] = {}


def parse_definition(raw: Any, origin: str = "definition") -> AuditDefinition:
    """Check a definition already read from YAML and build its dataclasses."""

    def fail(problem: str, entry: str = "", key: str | None = None) -> DefinitionError:
        return DefinitionError(problem, file=origin, entry=entry, key=key)

    if not isinstance(raw, dict):
        raise fail("the file must be a mapping with code, name and extract")
    raw = json.loads(json.dumps(raw, default=str))  # YAML dates become text: the snapshot is stored as JSON
    check_keys({k: v for k, v in raw.items() if not k.startswith(AUTHOR_KEY_PREFIX)}, TOP_LEVEL_KEYS, fail, "top level")
    code = raw.get("code")
    if not isinstance(code, str) or not IDENTIFIER.match(code):
        raise fail("'code' must be a short lower-case name such as bowel or mesothelioma")
    extract = raw.get("extract")
    if isinstance(extract, dict):
        check_keys(extract, EXTRACT_KEYS, fail, "extract")
    if not isinstance(extract, dict) or not isinstance(extract.get("columns"), list):
        raise fail("'extract.columns' must be a list of columns")

    columns: list[Column] = []
    seen: set[str] = set()
    for index, entry in enumerate(extract["columns"], start=1):
        columns.append(_parse_column(entry, index, seen, fail))
    names = {c.name for c in columns}
    by_name = {c.name: c for c in columns}
    for position, entry in enumerate(extract["columns"]):
        if entry.get("applies_when") is not None:
            where = f"column {columns[position].name}, applies_when"
            when = _parse_when(entry["applies_when"], by_name, fail, where, "applies_when must be a")
            columns[position] = replace(columns[position], applies_when=when)

    def role(key: str, wanted_type: str | None) -> str:
        name = extract.get(key)
        if name not in names:
            raise fail(f"'extract.{key}' must name one of the columns")
        column = next(c for c in columns if c.name == name)
        if wanted_type and column.type != wanted_type:
            raise fail(f"'extract.{key}' column {name} must have type {wanted_type}")
        if not column.required:
            raise fail(f"'extract.{key}' column {name} must be required")
        return name

    patient_id = role("patient_id", None)
    if not next(c for c in columns if c.name == patient_id).unique:
        raise fail(f"the patient_id column {patient_id} must be unique")
    provider = role("provider", "provider")
    diagnosis_date = role("diagnosis_date", "date")
    if sum(c.type == "provider" for c in columns) != 1:
        raise fail("exactly one column must have type provider")

    if not isinstance(extract.get("rules") or [], list):
        raise fail("'extract.rules' must be a list of rules")
    rules = tuple(
        _parse_rule(entry, index, {c.name: c for c in columns}, fail)
        for index, entry in enumerate(extract.get("rules") or [], start=1)
    )
    indicators = raw.get("indicators") or []
    if not isinstance(indicators, list):
        raise fail("'indicators' must be a list")
    plain = raw.get("plain", "")
    if not isinstance(plain, str):
        raise fail("'plain' must be text: what the audit looks at, in plain words", "top level", "plain")
    outlier_policy = raw.get("outlier_policy")
    if outlier_policy is not None and not isinstance(outlier_policy, dict):
        raise fail("'outlier_policy' must be a mapping (README, 'Outlier process')", "outlier_policy")
    demo = None
    if "demo" in raw:
        indicator_codes = {str(i.get("code")) for i in indicators if isinstance(i, dict)}
        demo = parse_demo(
            raw["demo"],
            {c.name: c for c in columns},
            rules,
            (patient_id, provider, diagnosis_date),
            indicator_codes,
            fail,
        )
    return AuditDefinition(
        code=code,
        name=str(raw.get("name") or code),
        short_name=str(raw.get("short_name") or raw.get("name") or code),
        description=str(raw.get("description") or ""),
        columns=tuple(columns),
        rules=rules,
        patient_id=patient_id,
        provider=provider,
        diagnosis_date=diagnosis_date,
        indicators=tuple(indicators),
        outlier_policy=outlier_policy,
        source=origin,
        plain=plain.strip(),
        demo=demo,
        raw=raw,
    )


def _parse_column(entry: Any, index: int, seen: set[str], fail: Fail) -> Column:
    if not isinstance(entry, dict):
        raise fail(f"column {index} must be a mapping with name and type")
    name = entry.get("name")
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        check_keys(entry, ANY_TYPE_KEYS, fail, f"column {index}")
        raise fail(f"name {name!r} must be lower-case letters, digits and _", f"column {index}")
    if name in RESERVED_COLUMNS:
        raise fail("this name is reserved", f"column {name}")
    if name in seen:
        raise fail(f"column {name} is declared twice")
    seen.add(name)
    kind = COLUMN_TYPES.get(entry["type"]) if isinstance(entry.get("type"), str) else None
    check_keys(entry, ANY_TYPE_KEYS, fail, f"column {name}")
    if kind is None:
        raise fail(f"type must be one of {', '.join(COLUMN_TYPES)}", f"column {name}")
    for key in entry:
        if key not in COLUMN_KEYS | kind.keys:
            raise fail(f"'{key}' does not apply to {kind.name} columns", f"column {name}", key)
    return Column(
        name=name,
        type=kind.name,
        required=bool(entry.get("required", False)),
        unique=bool(entry.get("unique", False)),
        description=str(entry.get("description") or ""),
        options=tuple(kind.options(entry, fail, f"column {name}").items()),
    )


def _parse_rule(entry: Any, index: int, columns: dict[str, Column], fail: Fail) -> Rule:
    if isinstance(entry, dict):
        check_keys(entry, frozenset().union(*RULE_KEYS.values()), fail, f"rule {index}")
    if not isinstance(entry, dict) or entry.get("type") not in RULE_TYPES:
        raise fail(f"type must be one of {', '.join(RULE_TYPES)}", f"rule {index}")
    for key in entry:
        if key not in RULE_KEYS[entry["type"]]:
            raise fail(f"'{key}' does not apply to a {entry['type']} rule", f"rule {index}", key)
    column = entry.get("column")
    if column not in columns:
        raise fail(f"column {column!r} is not declared", f"rule {index}")
    reference = entry.get("reference")
    when: list[tuple[str, tuple[Any, ...]]] = []
    if entry["type"] == "not_before":
        if reference not in columns or columns[reference].type != "date" or columns[column].type != "date":
            raise fail("not_before compares two declared date columns", f"rule {index}")
    else:
        when = list(_parse_when(entry.get("when"), columns, fail, f"rule {index}", f"{entry['type']} needs a 'when'"))
    return Rule(type=entry["type"], column=column, reference=reference, when=tuple(when))


def _parse_when(
    condition: Any, columns: Mapping[str, Column], fail: Fail, entry: str, what: str
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """A ``when`` mapping of column: value (or list of values), as rules and ``applies_when`` take it."""
    if not isinstance(condition, dict) or not condition:
        raise fail(f"{what} mapping of column: value", entry)
    when: list[tuple[str, tuple[Any, ...]]] = []
    for name, values in condition.items():
        if name not in columns:
            raise fail(f"when-column {name!r} is not declared", entry, str(name))
        values = tuple(values) if isinstance(values, list) else (values,)
        target = columns[name]
        for value in values:
            if target.type == "boolean" and not isinstance(value, bool):
                raise fail(f"{name} is boolean, so compare it with true or false", entry)
            if target.type == "code" and str(value) not in target.codes:
                raise fail(f"{value!r} is not a code of {name}", entry)
        if target.type == "code":
            values = tuple(str(v) for v in values)
        when.append((name, values))
    return tuple(when)
