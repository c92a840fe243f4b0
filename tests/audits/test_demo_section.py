"""A definition's ``demo:`` section is checked with the file: a bad value is refused naming the entry and the key
(misspelt keys: tests/indicators/test_definition_checks.py, MISSPELT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from audits.schema import DefinitionError, parse_definition
from tests.conftest import FIXTURES

BOWEL = yaml.safe_load((FIXTURES.parents[1] / "audits" / "definitions" / "bowel.yaml").read_text(encoding="utf-8"))


def columns(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["demo"]["columns"]


CASES: list[tuple[Callable[[dict[str, Any]], None], str, str | None, str]] = [
    (lambda d: d.update(demo=[1]), "demo", None, "'demo' must be a mapping"),
    (lambda d: d["demo"].update(rows=0), "demo", "rows", "'rows' must be a whole number"),
    (lambda d: columns(d).update(tumour={"rate": 0.1}), "demo, columns", "tumour", "column 'tumour' is not declared"),
    (lambda d: columns(d).update(provider_code={}), "demo, column provider_code", None, "drawn by the generator"),
    (lambda d: columns(d)["major_resection"].update(rate=1.5), "demo, column major_resection", "rate", "between"),
    (
        lambda d: columns(d)["major_resection"].update(shares={"x": 1}),
        "demo, column major_resection",
        "shares",
        "does not apply to boolean",
    ),
    (
        lambda d: columns(d)["stage"]["shares"].update({"5": 0.1}),
        "demo, column stage, shares",
        "5",
        "'5' is not a value of stage",
    ),
    (
        lambda d: columns(d)["major_resection"]["effects"].update(tumour=0.3),
        "demo, column major_resection, effects",
        "tumour",
        "effect column 'tumour' is not declared",
    ),
    (
        lambda d: columns(d)["major_resection"]["effects"].update(stage=0.3),
        "demo, column major_resection, effects",
        "stage",
        "give a shift per code",
    ),
    (
        lambda d: columns(d)["death_date"]["events"][0]["planted"].update(indicator="mortality_9d"),
        "demo, column death_date, event 1, planted",
        "indicator",
        "must name one of the file's indicators",
    ),
    (
        lambda d: columns(d)["death_date"]["events"][0]["planted"]["worse"].update(odds_ratio=1),
        "demo, column death_date, event 1, planted, worse",
        "odds_ratio",
        "odds ratio of worse trusts must not be 1",
    ),
    (
        lambda d: columns(d)["surgery_date"].update(start="age"),
        "demo, column surgery_date",
        "start",
        "must name a date column",
    ),
    (
        # major_resection reads stage; stage reading major_resection closes a circle.
        lambda d: columns(d)["stage"]["effects"].update(major_resection={"true": 0.2}),
        "demo",
        None,
        "read each other in a circle",
    ),
]


@pytest.mark.parametrize("change, entry, key, message", CASES)
def test_a_bad_demo_section_is_refused_naming_the_entry_and_the_key(change, entry, key, message):
    raw = yaml.safe_load(yaml.safe_dump(BOWEL))
    change(raw)
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw, origin="bowel.yaml")
    assert caught.value.file == "bowel.yaml"
    assert caught.value.entry == entry, str(caught.value)
    assert caught.value.key == key, str(caught.value)
    assert message in caught.value.problem


def test_the_demo_section_is_read_into_the_definition():
    definition = parse_definition(yaml.safe_load(yaml.safe_dump(BOWEL)))
    assert definition.demo is not None and definition.demo.rows == BOWEL["demo"]["rows"]
    planted = {p.indicator: p for p in definition.demo.planted}
    assert planted["mortality_90d"].worse == 3 and planted["mortality_90d"].better == 2
    assert planted["mdt_discussed"].worse_odds_ratio < 1  # fewer discussed: worse
    without = yaml.safe_load(yaml.safe_dump(BOWEL))
    del without["demo"]
    assert parse_definition(without).demo is None
