"""What every page piece is: a dataclass stored as JSON, and the CSV schema of a table beside it.

A piece is built once per run (ADR 0003) and stored as JSON in :class:`dashboards.models.FigureSpec`;
pages read it back as the same dataclass, so a template, a view and a CSV name its fields in one place.
An indicator's kind (:mod:`indicators.kinds`) is stored as its name and read back as the kind, which
templates ask what to show (``item.kind.value_title``) rather than branching on it.
A piece also reads as the JSON it is stored as (``piece["field"]``), as templates and callers indexing it do.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from dashboards import text
from indicators.kinds import KINDS, Kind

#: Field metadata: drawn into the piece's HTML when it is built, and not stored.
UNSTORED = {"stored": False}
#: Field metadata: stored only when it differs from its default (a key the JSON has only sometimes).
SOMETIMES = {"sometimes": True}


class Piece:
    """Base of the page pieces (each a dataclass)."""

    #: (key, value) that tells this piece's JSON from the others' where a piece may be one of several types.
    tag: ClassVar[tuple[str, Any] | None] = None

    def to_json(self) -> dict[str, Any]:
        """The piece as it is stored."""
        out: dict[str, Any] = {}
        for spec in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, spec.name)
            if spec.metadata.get("stored") is False:
                continue
            if spec.metadata.get("sometimes") and value == spec.default:
                continue
            out[spec.name] = as_json(value)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The piece from its stored JSON (the fields it does not store take their defaults)."""
        hints = _hints(cls)
        return cls(
            **{
                spec.name: decode(hints[spec.name], data[spec.name])
                for spec in dataclasses.fields(cls)  # type: ignore[arg-type]
                if spec.name in data
            }
        )

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:  # type: ignore[attr-defined]
            raise KeyError(name)
        return getattr(self, name)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def as_json(value: Any) -> Any:
    """``value`` as it is stored: pieces within it as their JSON, an indicator's kind as its name."""
    if isinstance(value, Piece):
        return value.to_json()
    if isinstance(value, Kind):
        return value.name
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def decode(hint: Any, value: Any) -> Any:
    """``value`` (JSON) as the type ``hint`` declares: pieces within pieces, lists and mappings of them."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        pieces = [h for h in typing.get_args(hint) if isinstance(h, type) and issubclass(h, Piece)]
        chosen = next((p for p in pieces if p.tag is None or value.get(p.tag[0]) == p.tag[1]), None)
        return value if chosen is None else chosen.from_json(value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [decode(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: decode(item, v) for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Piece):
        return hint.from_json(value)
    if hint is Kind:
        return KINDS[value]
    return value


# ------------------------------------------------------------------ CSV schemas

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One CSV column: its name in the header, and its cell for a row."""

    name: str
    cell: Callable[[Row], Any]


@dataclass(frozen=True)
class CsvSchema(Generic[Row]):
    """The columns of a downloadable table, in order (their names are the files' contract with their users)."""

    columns: Sequence[Column[Row]]

    @property
    def header(self) -> list[str]:
        return [column.name for column in self.columns]

    def rows(self, items: Iterable[Row]) -> list[list[Any]]:
        return [[column.cell(item) for column in self.columns] for item in items]


def interval_columns(prefix: str, cell: Callable[[Any], str]) -> tuple[tuple[str, Callable[[Any], str]], ...]:
    """A 95% interval as two columns, ``<prefix>_lower`` and ``<prefix>_upper`` (tidy: one value a cell), from a
    cell that writes it as :func:`dashboards.text.interval` does."""
    return (
        (f"{prefix}_lower", lambda row: text.interval_ends(cell(row))[0]),
        (f"{prefix}_upper", lambda row: text.interval_ends(cell(row))[1]),
    )


def columns(*pairs: tuple[str, Callable[[Row], Any]]) -> CsvSchema[Row]:
    """A CSV schema from (name, cell) pairs."""
    return CsvSchema([Column(name, cell) for name, cell in pairs])


# ------------------------------------------------------------------ embedding figures

_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def embed(value: Any) -> str | None:
    """JSON for a ``<script type="application/json">`` element, escaped as Django's ``json_script`` does, so
    pages insert it without serialising it again on every request."""
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).translate(_JSON_ESCAPES)
