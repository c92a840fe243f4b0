"""Indicator definitions and their conditions, without the database."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
import yaml

from audits.schema import DefinitionError, load_definition, parse_definition
from indicators.definitions import columns_used, evaluate, parse_indicators
from tests.conftest import FIXTURES

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
EXTRACT = date(2025, 3, 31)

FRAME = pd.DataFrame(
    {
        "stage": pd.Series(["1", "2", "4", None, "U"], dtype="str"),
        "age": pd.Series([17, 70, 90, 55, None], dtype="Int32"),
        "major_resection": pd.Series([True, True, False, None, True], dtype="boolean"),
        "surgery_date": pd.to_datetime(["2024-01-01", "2024-12-31", None, "2024-06-01", "2025-01-15"]),
        "death_date": pd.to_datetime(["2024-03-31", "2025-01-01", "2024-02-01", None, "2025-01-14"]),
    }
)


@pytest.mark.parametrize(
    "condition, expected",
    [
        ({"column": "stage", "in": ["1", "2"]}, [True, True, False, False, False]),
        ({"column": "stage", "in": [1, 2]}, [True, True, False, False, False]),  # YAML numbers compare as codes
        ({"column": "stage", "not_in": ["U"]}, [True, True, True, False, False]),  # missing satisfies nothing
        ({"column": "stage", "present": False}, [False, False, False, True, False]),
        ({"column": "age", "at_least": 18}, [False, True, True, True, False]),
        ({"column": "age", "at_most": 70}, [True, True, False, True, False]),
        ({"column": "major_resection", "equals": True}, [True, True, False, False, True]),
        # 2024-01-01 -> 2024-03-31 is 90 days; 2024-12-31 -> 2025-01-01 is 1 day; death before surgery is not "within"
        (
            {"event_within": {"event": "death_date", "start": "surgery_date", "days": 90}},
            [True, True, False, False, False],
        ),
        (
            {"event_within": {"event": "death_date", "start": "surgery_date", "days": 89}},
            [False, True, False, False, False],
        ),
        # followed up 90 days: surgery on or before 2024-12-31 (extract 2025-03-31 minus 90 days)
        ({"followed_up": {"start": "surgery_date", "days": 90}}, [True, True, False, True, False]),
        (
            {"all": [{"column": "major_resection", "equals": True}, {"column": "age", "at_least": 18}]},
            [False, True, False, False, False],
        ),
        (
            {"any": [{"column": "stage", "equals": "4"}, {"column": "age", "at_most": 17}]},
            [True, False, True, False, False],
        ),
        ({"not": {"column": "stage", "present": True}}, [False, False, False, True, False]),
    ],
)
def test_conditions_select_the_rows_worked_out_by_hand(condition, expected):
    assert evaluate(condition, FRAME, EXTRACT).tolist() == expected


def test_the_shipped_audits_declare_their_indicators():
    bowel = parse_indicators(load_definition(DEFINITIONS / "bowel.yaml"))
    lung = parse_indicators(load_definition(DEFINITIONS / "lung.yaml"))
    assert [i.code for i in bowel] == [
        "mortality_90d",
        "mortality_2y",
        "readmission_30d",
        "mdt_discussed",
        "emergency_presentation",
        "early_stage",
        "major_resection",
        "stage_completeness",
    ]
    assert {i.code for i in bowel if i.risk_adjusted} == {"mortality_90d", "mortality_2y", "readmission_30d"}
    assert len(lung) >= 5 and any(i.risk_adjusted for i in lung)
    for item in bowel + lung:
        assert item.title and item.description and item.prompt and item.numerator_text and item.denominator_text
        assert {"source", "authored_by", "checked_by", "date_reviewed"} <= set(item.review)
    ninety = bowel[0]
    assert ninety.period_column == "surgery_date" and ninety.direction == "lower_is_better"
    assert set(columns_used(ninety, load_definition(DEFINITIONS / "bowel.yaml"))) == {
        "provider_code",
        "age",
        "sex",
        "stage",
        "cancer_site",
        "performance_status",
        "charlson",
        "asa_grade",
        "route_to_diagnosis",
        "major_resection",
        "surgery_date",
        "death_date",
        "imd_quintile",  # the audit's inequality breakdowns (``inequalities:``): deprivation, age, sex
    }


def test_an_indicator_reads_only_the_columns_it_needs():
    bowel = load_definition(DEFINITIONS / "bowel.yaml")
    mdt = next(i for i in parse_indicators(bowel) if i.code == "mdt_discussed")
    # Its own column, and the columns of the audit's inequality breakdowns (age, sex, deprivation): nothing else.
    assert columns_used(mdt, bowel) == [
        "patient_id",
        "provider_code",
        "diagnosis_date",
        "age",
        "sex",
        "imd_quintile",
        "mdt_discussed",
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i: i.update(direction="up"), "direction must be one of"),
        (lambda i: i.update(numerator={"column": "stage", "in": ["5"]}), "['5'] are not codes of stage"),
        (lambda i: i.update(denominator={"column": "weight", "present": True}), "condition column 'weight' is not in"),
        (
            lambda i: i.update(numerator={"event_within": {"event": "age", "start": "diagnosis_date", "days": 9}}),
            "event_within.event must name a date column",
        ),
        (lambda i: i.update(risk_model={"covariates": [{"column": "age", "type": "spline"}]}), "type must be one of"),
        (lambda i: i.pop("title"), "'title' is required"),
    ],
)
def test_a_malformed_indicator_is_refused_naming_it(change, message):
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    change(raw["indicators"][5])
    with pytest.raises(DefinitionError, match="bowel.yaml: indicator"):
        parse_indicators(parse_definition(raw, origin="bowel.yaml"))
    try:
        parse_indicators(parse_definition(raw, origin="bowel.yaml"))
    except DefinitionError as exc:
        assert message in str(exc)


def test_evaluate_returns_plain_booleans_for_any_frame_length():
    empty = FRAME.iloc[:0]
    assert evaluate({"column": "stage", "in": ["1"]}, empty, EXTRACT).dtype == np.bool_
