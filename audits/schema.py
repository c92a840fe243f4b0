"""Audit definition files: load, check and describe them.

An audit is declared in one YAML file (see README, "Audit definition files").
This module turns a file into frozen dataclasses and refuses a malformed file
with a message naming the file and the entry, so adding an audit needs no Python.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

COLUMN_TYPES = ("text", "integer", "date", "boolean", "code", "provider")
RULE_TYPES = ("required_when", "blank_unless", "not_before")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Names the storage layer uses itself.
RESERVED_COLUMNS = {"release_id", "line", "provider_code_submitted"}


class DefinitionError(ValueError):
    """A definition file is malformed; the message says where and how to fix it."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    unique: bool = False
    codes: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    not_after_extract_date: bool = False
    description: str = ""


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
    source: str = ""
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
    """Read and check one definition file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path.name}: cannot be read as YAML: {exc}") from exc
    return parse_definition(raw, origin=path.name)


def parse_definition(raw: Any, origin: str = "definition") -> AuditDefinition:
    """Check a definition already read from YAML and build its dataclasses."""

    def fail(message: str) -> DefinitionError:
        return DefinitionError(f"{origin}: {message}")

    if not isinstance(raw, dict):
        raise fail("the file must be a mapping with code, name and extract")
    raw = json.loads(json.dumps(raw, default=str))  # YAML dates become text: the snapshot is stored as JSON
    code = raw.get("code")
    if not isinstance(code, str) or not IDENTIFIER.match(code):
        raise fail("'code' must be a short lower-case name such as bowel or mesothelioma")
    extract = raw.get("extract")
    if not isinstance(extract, dict) or not isinstance(extract.get("columns"), list):
        raise fail("'extract.columns' must be a list of columns")

    columns: list[Column] = []
    seen: set[str] = set()
    for index, entry in enumerate(extract["columns"], start=1):
        columns.append(_parse_column(entry, index, seen, fail))
    names = {c.name for c in columns}

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

    rules = tuple(
        _parse_rule(entry, index, {c.name: c for c in columns}, fail)
        for index, entry in enumerate(extract.get("rules") or [], start=1)
    )
    indicators = raw.get("indicators") or []
    if not isinstance(indicators, list):
        raise fail("'indicators' must be a list")
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
        source=origin,
        raw=raw,
    )


def _parse_column(entry: Any, index: int, seen: set[str], fail) -> Column:
    if not isinstance(entry, dict):
        raise fail(f"column {index} must be a mapping with name and type")
    name = entry.get("name")
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise fail(f"column {index}: name {name!r} must be lower-case letters, digits and _")
    if name in RESERVED_COLUMNS:
        raise fail(f"column {name}: this name is reserved")
    if name in seen:
        raise fail(f"column {name} is declared twice")
    seen.add(name)
    kind = entry.get("type")
    if kind not in COLUMN_TYPES:
        raise fail(f"column {name}: type must be one of {', '.join(COLUMN_TYPES)}")
    unknown = set(entry) - {f for f in Column.__dataclass_fields__}
    if unknown:
        raise fail(f"column {name}: unknown keys {', '.join(sorted(unknown))}")
    codes = tuple(str(c) for c in entry.get("codes") or ())
    if kind == "code" and not codes:
        raise fail(f"column {name}: a code column needs a list of codes")
    if len({c.lower() for c in codes}) != len(codes):
        raise fail(f"column {name}: codes must differ other than in case")
    lo, hi = entry.get("min"), entry.get("max")
    for bound in (lo, hi):
        if bound is not None and (kind != "integer" or not isinstance(bound, int)):
            raise fail(f"column {name}: min and max are whole numbers for integer columns")
    if entry.get("not_after_extract_date") and kind != "date":
        raise fail(f"column {name}: not_after_extract_date applies to date columns")
    return Column(
        name=name,
        type=kind,
        required=bool(entry.get("required", False)),
        unique=bool(entry.get("unique", False)),
        codes=codes,
        min=lo,
        max=hi,
        not_after_extract_date=bool(entry.get("not_after_extract_date", False)),
        description=str(entry.get("description") or ""),
    )


def _parse_rule(entry: Any, index: int, columns: dict[str, Column], fail) -> Rule:
    if not isinstance(entry, dict) or entry.get("type") not in RULE_TYPES:
        raise fail(f"rule {index}: type must be one of {', '.join(RULE_TYPES)}")
    column = entry.get("column")
    if column not in columns:
        raise fail(f"rule {index}: column {column!r} is not declared")
    reference = entry.get("reference")
    when: list[tuple[str, tuple[Any, ...]]] = []
    if entry["type"] == "not_before":
        if reference not in columns or columns[reference].type != "date" or columns[column].type != "date":
            raise fail(f"rule {index}: not_before compares two declared date columns")
    else:
        condition = entry.get("when")
        if not isinstance(condition, dict) or not condition:
            raise fail(f"rule {index}: {entry['type']} needs a 'when' mapping of column: value")
        for name, values in condition.items():
            if name not in columns:
                raise fail(f"rule {index}: when-column {name!r} is not declared")
            values = tuple(values) if isinstance(values, list) else (values,)
            target = columns[name]
            for value in values:
                if target.type == "boolean" and not isinstance(value, bool):
                    raise fail(f"rule {index}: {name} is boolean, so compare it with true or false")
                if target.type == "code" and str(value) not in target.codes:
                    raise fail(f"rule {index}: {value!r} is not a code of {name}")
            if target.type == "code":
                values = tuple(str(v) for v in values)
            when.append((name, values))
    return Rule(type=entry["type"], column=column, reference=reference, when=tuple(when))
