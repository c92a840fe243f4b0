"""Finding a trust or alliance by what people type: its code, its name however written, a former or common name.

:func:`normalise` is the one rule for the index and the query alike (pure, memoised). The index is built from
one query (every active trust, every alliance and the trusts' other names, ``audits.TrustAlias``) and kept
while those rows are unchanged (:func:`_index`, keyed on them), so a search normalises only what was typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import CharField, Value
from django.urls import reverse

from audits.models import Alliance, Trust, TrustAlias

TRUST, ALLIANCE = "Trust", "Cancer Alliance"
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_PUNCTUATION = re.compile(r"[\W_]+")
_SAME_WORD = {"saint": "st"}


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """``text`` as the search compares it: case and accents ignored, apostrophes dropped ("George's" is
    "georges"), other punctuation and runs of spaces one space, "&" is "and" and "Saint" (or "St.") is "st"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _APOSTROPHES.sub("", text).replace("&", " and ")
    return " ".join(_SAME_WORD.get(word, word) for word in _PUNCTUATION.sub(" ", text).split())


@dataclass(frozen=True)
class Name:
    """Another name of an organisation, normalised."""

    text: str
    kind: str  # TrustAlias.Kind
    key: str

    @property
    def phrase(self) -> str:
        return f"formerly {self.text}" if self.kind == TrustAlias.Kind.FORMER else f"also known as {self.text}"


@dataclass(frozen=True)
class Entry:
    """One organisation in the index: the finder's option, and its normalised name, code and other names."""

    option: dict[str, str]  # code, name, kind, url: the type-ahead's option (shared: never modified)
    key: str  # normalised "name code"
    exact: frozenset[str]  # normalised code, name and other names: typing one of them opens the page
    names: tuple[Name, ...]


@dataclass(frozen=True)
class Match:
    code: str
    name: str
    kind: str
    url: str
    aka: str = ""  # "formerly ..." when found by a former name (or "also known as ..."), else empty


@dataclass(frozen=True)
class Found:
    organisations: list[dict[str, str]]  # every organisation, for the type-ahead
    matches: list[Match]
    exact: Match | None  # the one organisation whose code, name or other name is what was typed


def _rows() -> tuple[tuple[str, str, str, str], ...]:
    """(code, name, kind, alias kind) of every active trust, alliance and trust's other name: one query."""
    text = CharField()
    trusts = Trust.objects.filter(active=True).values_list(
        "code", "name", Value(TRUST, output_field=text), Value("", output_field=text)
    )
    alliances = Alliance.objects.values_list(
        "code", "name", Value(ALLIANCE, output_field=text), Value("", output_field=text)
    )
    aliases = TrustAlias.objects.filter(trust__active=True).values_list(
        "trust_id", "alias", Value("", output_field=text), "kind"
    )
    union = trusts.order_by().union(alliances.order_by(), aliases.order_by(), all=True)
    return tuple(sorted(union))


@lru_cache(maxsize=4)
def _index(rows: tuple[tuple[str, str, str, str], ...]) -> tuple[list[dict[str, str]], tuple[Entry, ...]]:
    urls = {TRUST: reverse("trust", args=["CODE"]), ALLIANCE: reverse("alliance", args=["CODE"])}
    names: dict[str, list[Name]] = {}
    for code, alias, _, alias_kind in rows:
        if alias_kind:
            names.setdefault(code, []).append(Name(alias, alias_kind, normalise(alias)))
    organisations = sorted(
        (
            {"code": code, "name": name, "kind": kind, "url": urls[kind].replace("CODE", code)}
            for code, name, kind, _ in rows
            if kind
        ),
        key=lambda o: (o["kind"] != TRUST, o["name"]),
    )
    entries = tuple(
        Entry(
            option=o,
            key=normalise(f"{o['name']} {o['code']}"),
            exact=frozenset({normalise(o["code"]), normalise(o["name"]), *(n.key for n in names.get(o["code"], []))}),
            names=tuple(names.get(o["code"], [])),
        )
        for o in organisations
    )
    return organisations, entries


def organisations() -> list[dict[str, str]]:
    """Every active trust (by name) and every alliance (by name), for finding one by name or code (one query).
    Shared by every request: callers must not modify it."""
    return _index(_rows())[0]


def find_organisations(query: str) -> Found:
    """The organisations ``query`` names: every one whose name and code hold each of its words (or else one of
    whose other names does: said as "formerly ..."), and the one it names exactly, if just one."""
    everyone, entries = _index(_rows())
    typed = normalise(query)
    if not typed:
        return Found(everyone, [], None)
    words = typed.split()
    matches, exact = [], []
    for entry in entries:
        found_by = next((n for n in entry.names if n.key == typed), None) if typed in entry.exact else None
        if not all(word in entry.key for word in words) and found_by is None:
            found_by = next((n for n in entry.names if all(word in n.key for word in words)), None)
            if found_by is None:
                continue
        match = Match(**entry.option, aka=found_by.phrase if found_by else "")
        matches.append(match)
        if typed in entry.exact:
            exact.append(match)
    return Found(everyone, matches, exact[0] if len(exact) == 1 else None)
