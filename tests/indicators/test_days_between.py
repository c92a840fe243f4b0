"""``days_between``: waiting-time indicators, e.g. first treatment within 31 days of the decision to treat.

Known truth: hand-built rows whose intervals are counted on a calendar. Both dates must be recorded, and
an end before its start (a recording error) meets no bound.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest
import yaml

from audits.schema import DefinitionError, parse_definition
from indicators.compute import compute_indicator
from indicators.conditions import DaysBetween, evaluate
from indicators.definitions import IndicatorDefinition, columns_used, parse_indicators
from tests.conftest import FIXTURES, run_command

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
EXTRACT = date(2025, 6, 30)

# diagnosis -> surgery: 31 days, 32 days, the same day, one day BEFORE, no diagnosis date, no surgery date
FRAME = pd.DataFrame(
    {
        "diagnosis_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-10", "2025-03-10", None, "2025-02-01"]),
        "surgery_date": pd.to_datetime(["2025-02-01", "2025-02-02", "2025-03-10", "2025-03-09", "2025-03-01", None]),
    }
)


def between(**bounds: int) -> dict[str, Any]:
    return {"days_between": {"start": "diagnosis_date", "end": "surgery_date", **bounds}}


@pytest.mark.parametrize(
    "bounds, expected",
    [
        ({"at_most": 31}, [True, False, True, False, False, False]),  # 1 January + 31 days = 1 February
        ({"at_most": 0}, [False, False, True, False, False, False]),
        ({"at_least": 32}, [False, True, False, False, False, False]),
        ({"at_least": 0}, [True, True, True, False, False, False]),  # a usable interval: a denominator
        ({"at_least": 1, "at_most": 31}, [True, False, False, False, False, False]),
        ({"at_least": 31, "at_most": 31}, [True, False, False, False, False, False]),
    ],
)
def test_the_whole_days_between_two_dates_are_within_the_bounds(bounds, expected):
    assert evaluate(between(**bounds), FRAME, EXTRACT).tolist() == expected


def test_negated_it_selects_the_late_and_the_unrecorded():
    """``not`` of a bound is everything the bound does not meet: the late, the reversed and the missing."""
    assert evaluate({"not": between(at_most=31)}, FRAME, EXTRACT).tolist() == [False, True, False, True, True, True]


def bowel(indicator: dict[str, Any]) -> Any:
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    raw["indicators"].append(
        {
            "code": "surgery_31d",
            "title": "Surgery within 31 days of diagnosis",
            "description": "A waiting time.",
            "numerator": between(at_most=31),
            "denominator": between(at_least=0),
            "direction": "higher_is_better",
            **indicator,
        }
    )
    return parse_definition(raw, origin="bowel.yaml")


def test_a_waiting_time_indicator_reads_both_dates():
    audit = bowel({"period": {"column": "death_date"}})  # so that only the condition names the two dates
    waiting = next(i for i in parse_indicators(audit) if i.code == "surgery_31d")
    assert isinstance(waiting.conditions.numerator, DaysBetween)
    assert list(waiting.conditions.numerator.columns()) == ["diagnosis_date", "surgery_date"]
    assert {"diagnosis_date", "surgery_date"} <= set(columns_used(waiting, audit))
    assert [c for c in columns_used(waiting, audit) if c.endswith("_date")] == [
        "diagnosis_date",
        "surgery_date",
        "death_date",
    ]


# (the indicator's change, the entry named, the key named, the problem)
REFUSED: list[tuple[str, dict[str, Any], str, str | None, str]] = [
    (
        "unknown key",
        {"numerator": {"days_between": {"start": "diagnosis_date", "end": "surgery_date", "at_mots": 31}}},
        "numerator.days_between",
        "at_mots",
        "unknown key 'at_mots' (did you mean 'at_most'?)",
    ),
    (
        "start not a date column",
        {"numerator": {"days_between": {"start": "age", "end": "surgery_date", "at_most": 31}}},
        "numerator.days_between",
        None,
        "days_between.start must name a date column",
    ),
    (
        "end missing",
        {"denominator": {"days_between": {"start": "diagnosis_date", "at_least": 0}}},
        "denominator.days_between",
        None,
        "days_between.end must name a date column",
    ),
    (
        "end not in the extract, nested",
        {
            "numerator": {
                "all": [
                    {"column": "age", "at_least": 18},
                    {"days_between": {"start": "diagnosis_date", "end": "treatment_date", "at_most": 31}},
                ]
            }
        },
        "numerator.all[2].days_between",
        None,
        "days_between.end must name a date column",
    ),
    (
        "no bound",
        {"numerator": between()},
        "numerator.days_between",
        None,
        "days_between needs at_most, at_least or both",
    ),
    (
        "negative bound",
        {"numerator": between(at_most=-1)},
        "numerator.days_between",
        "at_most",
        "days_between.at_most must be a whole number of days",
    ),
    (
        "fractional bound",
        {"exclusions": [between(at_least=1.5)]},
        "exclusions[1].days_between",
        "at_least",
        "days_between.at_least must be a whole number of days",
    ),
    (
        "boolean bound",
        {"numerator": between(at_most=True)},
        "numerator.days_between",
        "at_most",
        "days_between.at_most must be a whole number of days",
    ),
    (
        "bounds that no patient could meet",
        {"numerator": between(at_least=40, at_most=31)},
        "numerator.days_between",
        None,
        "days_between.at_least must not be above at_most: no patient could meet it",
    ),
    (
        "not a mapping",
        {"numerator": {"days_between": 31}},
        "numerator",
        None,
        "days_between must be a mapping of at_least, at_most, end, start",
    ),
]


@pytest.mark.parametrize(
    "change, entry, key, problem", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_a_malformed_days_between_is_refused_naming_file_entry_and_key(change, entry, key, problem):
    with pytest.raises(DefinitionError) as caught:
        parse_indicators(bowel(change))
    error = caught.value
    assert (error.file, error.entry, error.key, error.problem) == (
        "bowel.yaml",
        f"indicator surgery_31d, {entry}",
        key,
        problem,
    )


def test_check_definition_names_the_file_entry_and_key(tmp_path):
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    indicator = next(i for i in raw["indicators"] if i["code"] == "early_stage")
    indicator["numerator"] = {"days_between": {"start": "diagnosis_date", "end": "surgery_date", "within": 31}}
    path = tmp_path / "bowel.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    [problem] = json.loads(out)
    assert (problem["file"], problem["entry"], problem["key"]) == (
        str(path),
        "indicator early_stage, numerator.days_between",
        "within",
    )
    assert problem["message"].endswith("unknown key 'within' (allowed: at_least, at_most, end, start)")


def test_a_waiting_time_indicator_counts_each_trust_end_to_end():
    """Through the compute: the denominator is the patients with a usable interval, the numerator those
    within 31 days."""
    frame = pd.concat([FRAME] * 3, ignore_index=True).assign(provider_code=["T1"] * 6 + ["T2"] * 12)
    waiting = IndicatorDefinition(
        code="surgery_31d",
        title="Surgery within 31 days of diagnosis",
        description="",
        numerator=between(at_most=31),
        denominator=between(at_least=0),
        exclusions=(),
        direction="higher_is_better",
        period_column="surgery_date",
        numerator_text="",
        denominator_text="",
    )
    output = compute_indicator(
        frame, waiting, extract_date=EXTRACT, provider_column="provider_code", alliance_of={"T1": "A", "T2": "A"}
    )
    providers = output.results[output.results["level"] == "provider"].groupby("organisation")[
        ["numerator", "denominator"]
    ]
    # per copy of FRAME: 3 usable intervals (31 days, 32 days, the same day), 2 of them within 31 days
    assert providers.sum().to_dict("index") == {
        "T1": {"numerator": 2, "denominator": 3},
        "T2": {"numerator": 4, "denominator": 6},
    }
