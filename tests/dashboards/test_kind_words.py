"""The pages ask an indicator's kind what to show (indicators/kinds), rather than branching on it: every kind
says it, and a piece stores its kind by name."""

from __future__ import annotations

from dashboards.pages.piece import as_json, decode
from indicators.kinds import KINDS, Kind


def test_every_kind_says_what_its_pages_show():
    declared = [name for name, hint in Kind.__annotations__.items() if str(hint).startswith("ClassVar")]
    assert {"value_title", "adjective", "has_expected", "result_columns", "excess_words"} <= set(declared)
    for kind in KINDS.values():
        assert [name for name in declared if not hasattr(kind, name)] == [], kind.name
        assert all(len(column) == 3 for column in kind.result_columns), kind.name
        assert kind.limits_words.format(method="midp"), kind.name


def test_a_kind_is_stored_by_its_name_and_read_back_as_the_kind():
    for name, kind in KINDS.items():
        assert as_json(kind) == name
        assert decode(Kind, name) is kind
