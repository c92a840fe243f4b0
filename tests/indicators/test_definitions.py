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


NATCAN_MORE = ("og", "prostate", "breast_primary", "breast_metastatic", "kidney", "pancreatic", "ovarian", "nhl")


@pytest.mark.parametrize("audit", NATCAN_MORE)
def test_each_further_natcan_indicator_says_whether_its_definition_was_checked(audit):
    """No methodology supplement of these audits could be read (docs/audits/natcan-indicators.md): every indicator
    says so, with what is unchecked, and the definition object exposes it for the page."""
    items = parse_indicators(load_definition(DEFINITIONS / f"{audit}.yaml"))
    assert items
    for item in items:
        assert item.review["status"] in ("verified", "unverified"), item.code
        assert item.review["source"], item.code
        if item.review["status"] == "unverified":
            assert item.under_review and item.review_note == item.review["note"] and item.review_note.strip()


def test_a_definition_without_a_review_status_claims_nothing():
    bowel = parse_indicators(load_definition(DEFINITIONS / "bowel.yaml"))
    assert not any(item.under_review for item in bowel) and all(item.review_note == "" for item in bowel)


def test_the_kidney_curative_treatment_indicator_carries_the_96_percent_objective():
    kidney = {i.code: i for i in parse_indicators(load_definition(DEFINITIONS / "kidney.yaml"))}
    assert kidney["curative_31d"].standard is not None and kidney["curative_31d"].standard["value"] == 0.96
    assert kidney["curative_31d"].numerator == {
        "days_between": {"start": "decision_to_treat_date", "end": "first_treatment_date", "at_most": 31}
    }


def test_nogca_post_operative_mortality_is_adjusted_for_the_factors_augis_lists():
    og = {i.code: i for i in parse_indicators(load_definition(DEFINITIONS / "og.yaml"))}
    for code in ("mortality_30d", "mortality_90d"):
        covariates = {c["column"] for c in (og[code].risk_model or {})["covariates"]}
        assert covariates == {
            "age",
            "performance_status",
            "asa_grade",
            "charlson",
            "tumour_site",
            "pathological_t_stage",
            "nodes_positive",
            "neoadjuvant_therapy",
        }
        assert og[code].kind == "ratio" and og[code].period_column == "surgery_date"


@pytest.mark.parametrize(
    "audit, track",
    [
        ("og", "formal"),
        ("prostate", "formal"),
        *((audit, "supportive") for audit in NATCAN_MORE if audit not in ("og", "prostate")),
    ],
)
def test_the_newer_natcan_audits_follow_supportive_contact(audit, track):
    """NNHLA says it is on supportive contact and the other newer audits are taken to be (docs/audits/natcan-
    indicators.md, 1.4); the established NOGCA and NPCA follow HQIP's formal process as bowel and lung do."""
    from indicators.outlier_policy import parse_policy

    policy = parse_policy(load_definition(DEFINITIONS / f"{audit}.yaml"))
    assert policy.track == track
    assert policy.base == ("hqip_formal" if track == "formal" else "supportive_contact")
