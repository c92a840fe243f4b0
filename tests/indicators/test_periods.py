"""Periods that are what they say, NHS financial quarters with gaps, and fields an indicator needs.

Known truths (issue 11, items 7 and 8): with an extract date of 30 September 2025, 90-day mortality
is followed up for surgery up to 2 July 2025, so "2025/26" covers 1 April to 2 July 2025 (93 of
365 days): it is labelled so, dated so, and nobody in it is flagged, while a trust planted at four
times the risk is flagged in every full year. Quarters run April-June (Q1) to January-March (Q4); a
quarter without patients stays a gap. A trust that records readmissions only when there was one
does not show 100%: it is refused with its completeness, and a trust that records nothing is shown.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from audits.schema import load_definition
from indicators.compute import compute_indicator, period_label, trend_chart
from indicators.definitions import parse_indicators
from tests.conftest import FIXTURES

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
BOWEL = {i.code: i for i in parse_indicators(load_definition(DEFINITIONS / "bowel.yaml"))}
LUNG = {i.code: i for i in parse_indicators(load_definition(DEFINITIONS / "lung.yaml"))}
EXTRACT = date(2025, 9, 30)
TRUSTS = [f"T{i:02d}" for i in range(20)]


def resections(seed: int = 11, per_trust_year: int = 400) -> pd.DataFrame:
    """Major resections from 1 April 2022 to the extract date; 5% die within 90 days, T00 20%."""
    rng = np.random.default_rng(seed)
    days = (pd.Timestamp(EXTRACT) - pd.Timestamp("2022-04-01")).days + 1
    n = int(per_trust_year * len(TRUSTS) * days / 365)
    trust = rng.choice(TRUSTS, n)
    surgery = pd.Timestamp("2022-04-01") + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    died = rng.random(n) < np.where(trust == "T00", 0.20, 0.05)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "provider_code": trust,
            "age": rng.integers(40, 90, n),
            "major_resection": True,
            "surgery_date": surgery,
            "death_date": (surgery + pd.Timedelta(days=30)).where(died),
        }
    )


def run(frame: pd.DataFrame, indicator, extract: date = EXTRACT):
    alliance_of = {code: "E56000001" for code in frame["provider_code"].unique()}
    return compute_indicator(
        frame, indicator, extract_date=extract, provider_column="provider_code", alliance_of=alliance_of
    )


MORTALITY = dataclasses.replace(BOWEL["mortality_90d"], risk_model=None)
MORTALITY_ADJUSTED = dataclasses.replace(
    BOWEL["mortality_90d"], risk_model={"covariates": [{"column": "age", "type": "numeric"}]}
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return resections()


@pytest.mark.parametrize("indicator", [MORTALITY, MORTALITY_ADJUSTED], ids=["proportion", "risk-adjusted"])
def test_the_part_year_is_labelled_with_its_real_dates_and_unflagged(frame, indicator):
    output = run(frame, indicator)
    results = output.results
    t00 = results[(results["organisation"] == "T00") & (results["level"] == "provider")].set_index("period")
    for full in ("2022/23", "2023/24", "2024/25"):  # full years are unchanged: whole years, flagged
        row = t00.loc[full]
        assert (row["period_start"], row["period_end"]) == (date(int(full[:4]), 4, 1), date(int(full[:4]) + 1, 3, 31))
        assert row["coverage"] == 1 and not row["partial"] and row["note"] == ""
        assert row["flag"].endswith("high")
    part = "2025/26, 1 April to 2 July 2025"
    assert part in t00.index and "2025/26" not in t00.index
    row = t00.loc[part]
    assert (row["period_start"], row["period_end"]) == (date(2025, 4, 1), date(2025, 7, 2))
    assert row["partial"] and row["coverage"] == pytest.approx(93 / 365)
    assert "No funnel flags" in row["note"]
    in_part = results[results["period"] == part]
    assert (in_part["flag"] == "none").all()
    assert in_part[["limit_lower_95", "limit_upper_95", "limit_lower_998", "limit_upper_998", "z"]].isna().all().all()
    assert part not in {fit["period"] for fit in output.funnels}
    # All years together say where they end.
    pooled = t00.loc["2022/23-2025/26, to 2 July 2025"]
    assert pooled["period_end"] == date(2025, 7, 2) and pooled["partial"]


def test_a_part_period_is_flagged_when_it_meets_the_definitions_minimum_coverage(frame):
    results = run(frame, dataclasses.replace(MORTALITY, minimum_coverage=0.2)).results
    row = results[(results["organisation"] == "T00") & (results["period"] == "2025/26, 1 April to 2 July 2025")]
    assert row["flag"].iloc[0].endswith("high") and row["partial"].iloc[0]


def test_a_period_covered_in_whole_months_is_named_by_its_months():
    assert period_label(2024, end=date(2024, 6, 30)) == "2024/25, April to June 2024"
    assert period_label(2024, end=date(2025, 1, 31)) == "2024/25, April 2024 to January 2025"
    assert period_label(2024, end=date(2024, 4, 30)) == "2024/25, April 2024"
    assert period_label(2024, end=date(2025, 3, 31)) == "2024/25"
    assert period_label(2021, 2024, end=date(2025, 3, 31)) == "2021/22-2024/25"


# -- quarters --------------------------------------------------------------------------------------

QUARTER_ROWS = [  # diagnosis date, discussed at MDT
    ("2024-04-10", True),
    ("2024-05-01", False),  # 2024/25 Q1: 1/2
    ("2024-07-15", True),
    ("2024-08-01", True),  # Q2: 2/2; nobody October to December (Q3)
    ("2025-01-20", False),
    ("2025-02-01", False),  # Q4: 0/2
    ("2025-04-02", True),
    ("2025-06-01", False),  # 2025/26 Q1: 1/2
]


def quarter_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(len(QUARTER_ROWS))],
            "provider_code": "T00",
            "diagnosis_date": pd.to_datetime([d for d, _ in QUARTER_ROWS]),
            "mdt_discussed": [m for _, m in QUARTER_ROWS],
        }
    )


def test_quarters_are_nhs_financial_quarters_and_an_empty_one_is_a_gap():
    output = run(quarter_frame(), BOWEL["mdt_discussed"])
    trend = next(t for t in output.trends if t["level"] == "national")
    points = trend["points"]
    assert [p["quarter"] for p in points] == ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3", "2024/25 Q4", "2025/26 Q1"]
    assert [p["start"] for p in points] == ["2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01", "2025-04-01"]
    assert [p["denominator"] for p in points] == [2, 2, 0, 2, 2]
    assert [p["value"] for p in points] == [0.5, 1.0, None, 0.0, 0.5]
    assert [p["expected"] for p in points] == [1.0, 1.0, 0.0, 1.0, 1.0]  # denominator x 4/8
    # Moving ranges only between adjacent quarters: |1 - 0.5| and |0.5 - 0|, not |0 - 1| across Q3.
    chart = trend["xmr"]
    assert chart["mean"] == pytest.approx(0.5) and chart["amr"] == pytest.approx(0.5)
    assert [p["value"] for p in chart["points"]] == [0.5, 1.0, 0.0, 0.5]
    assert (chart["lpl"], chart["upl"]) == (0.0, 1.0)  # 0.5 -/+ 1.33, within 0% to 100%


def test_expected_of_a_risk_adjusted_trend_is_the_sum_of_predicted_risks(frame):
    output = run(frame, MORTALITY_ADJUSTED)
    national = next(t for t in output.trends if t["level"] == "national")
    results = output.results
    full = results[(results["level"] == "national") & ~results["partial"]]
    by_year = {int(r["period"][:4]): r["expected"] for r in full.to_dict("records")}
    for year, expected in by_year.items():
        quarters = [p["expected"] for p in national["points"] if p["quarter"].startswith(period_label(year) + " ")]
        assert sum(quarters) == pytest.approx(expected)


def test_a_quarter_not_wholly_followed_up_is_left_out_of_the_chart(frame):
    national = next(t for t in run(frame, MORTALITY).trends if t["level"] == "national")
    last = national["points"][-1]
    assert last["quarter"] == "2025/26 Q2" and last["partial"]  # surgery to 2 July only
    assert not any(p["partial"] for p in national["points"][:-1])
    assert len(national["xmr"]["points"]) == len(national["points"]) - 1


@pytest.mark.parametrize(
    ("centre", "low", "high"),
    [(0.03, 0.0, pytest.approx(0.095, abs=1e-4)), (0.97, pytest.approx(0.905, abs=1e-4), 1.0)],
    ids=["near 0%", "near 100%"],
)
def test_xmr_limits_of_a_proportion_stay_within_0_and_100_percent(centre, low, high):
    # Alternating centre -/+ 0.012222: AMR 0.024444, so mean -/+ 2.66 AMR = centre -/+ 0.065
    # ("-3.5% to 9.5%" unclamped near 0%).
    values = [centre + (0.0122222 if i % 2 else -0.0122222) for i in range(12)]
    chart = trend_chart(values, BOWEL["mdt_discussed"])
    assert chart is not None
    assert (chart["lpl"], chart["upl"]) == (low, high)
    assert 0.0 <= chart["near_lpl"] <= chart["near_upl"] <= 1.0


def test_xmr_limits_of_a_risk_adjusted_rate_are_not_negative():
    values = [0.03 + (0.0122222 if i % 2 else -0.0122222) for i in range(12)]
    chart = trend_chart(values, BOWEL["mortality_90d"])
    assert chart is not None and chart["lpl"] == 0.0 and chart["upl"] == pytest.approx(0.095, abs=1e-4)


# -- fields an indicator needs ---------------------------------------------------------------------


def readmissions(seed: int = 5) -> pd.DataFrame:
    """Ten trusts record every readmission status (10% readmitted); ONLY records a status only when
    the patient was readmitted; NONE records nothing."""
    rng = np.random.default_rng(seed)
    trusts = [*TRUSTS[:10], "ONLY", "NONE"]
    n = 200 * len(trusts)
    trust = np.repeat(trusts, 200)
    readmitted = rng.random(n) < 0.10
    status = np.where(trust == "ONLY", np.where(readmitted, True, None), readmitted.astype(object))
    status = np.where(trust == "NONE", None, status)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "provider_code": trust,
            "major_resection": True,
            "surgery_date": pd.Timestamp("2023-04-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "readmitted_30d": status,
        }
    )


def test_a_trust_recording_a_field_too_rarely_is_refused_with_its_completeness_not_dropped():
    indicator = dataclasses.replace(BOWEL["readmission_30d"], risk_model=None)
    results = run(readmissions(), indicator, extract=date(2025, 3, 31)).results.set_index(["level", "organisation"])
    only, none = results.loc[("provider", "ONLY")], results.loc[("provider", "NONE")]
    assert np.isnan(only["value"]) and only["flag"] == "none" and not only["eligible"]
    assert only["denominator"] == 200 and 0.05 < only["field_completeness"] < 0.15
    assert only["note"].startswith("Not computed: readmitted_30d is recorded for")
    assert none["denominator"] == 200 and none["field_completeness"] == 0 and np.isnan(none["value"])
    recording = results.loc[("provider", "T00")]
    assert recording["field_completeness"] == 1 and recording["value"] == pytest.approx(0.1, abs=0.05)
    england = results.loc[("national", "E92000001")]
    assert england["denominator"] == 2000 and england["value"] == pytest.approx(0.1, abs=0.02)
    assert "Leaves out 2 trust(s)" in england["note"]


def lung_early(seed: int = 3) -> pd.DataFrame:
    """NSCLC stage I-II, performance status 0-2 where recorded (T05 records it for half its
    patients), every plan curative, 60% treated (surgery or radical radiotherapy)."""
    rng = np.random.default_rng(seed)
    trusts = TRUSTS[:6]
    n = 100 * len(trusts)
    trust = np.repeat(trusts, 100)
    treated = rng.random(n) < 0.6
    surgery = treated & (rng.random(n) < 0.5)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "provider_code": trust,
            "diagnosis_date": pd.Timestamp("2023-04-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "histology": "nsclc",
            "stage": rng.choice(["1", "2"], n),
            "performance_status": np.where((trust == "T05") & (np.arange(n) % 2 == 0), np.nan, rng.integers(0, 3, n)),
            "treatment_intent": "curative",
            "surgery": surgery,
            "radical_radiotherapy": treated & ~surgery,
        }
    )


def test_curative_treatment_counts_treatment_received_not_the_plan_and_needs_performance_status():
    results = run(lung_early(), LUNG["curative_early"], extract=date(2025, 3, 31)).results.set_index(
        ["level", "organisation"]
    )
    england = results.loc[("national", "E92000001")]
    assert england["value"] == pytest.approx(0.6, abs=0.06)  # every plan was curative; 60% were treated
    t05 = results.loc[("provider", "T05")]
    assert t05["field_completeness"] == pytest.approx(0.5)  # among NSCLC stage I-II, not among PS 0-2
    assert np.isnan(t05["value"]) and t05["note"].startswith("Not computed: performance_status")
    assert results.loc[("provider", "T00")]["field_completeness"] == 1


def test_a_trust_refused_in_one_year_keeps_its_other_years_and_its_all_years_row_says_what_it_leaves_out():
    frame = readmissions()
    second = frame.assign(
        patient_id=frame["patient_id"] + "b",
        surgery_date=frame["surgery_date"] + pd.Timedelta(days=365),
        readmitted_30d=frame["readmitted_30d"].where(frame["provider_code"] != "ONLY", False),
    )
    indicator = dataclasses.replace(BOWEL["readmission_30d"], risk_model=None)
    results = run(pd.concat([frame, second]), indicator, extract=date(2025, 9, 30)).results
    only = results[(results["level"] == "provider") & (results["organisation"] == "ONLY")].set_index("period")
    assert np.isnan(only.loc["2023/24", "value"]) and only.loc["2023/24", "note"].startswith("Not computed")
    assert only.loc["2024/25", "field_completeness"] == 1 and np.isfinite(only.loc["2024/25", "value"])
    pooled = only.loc["2023/24-2024/25"]
    assert pooled["denominator"] == 200 and "Leaves out its years 2023/24" in pooled["note"]
    assert set(results["period"]) == {"2023/24", "2024/25", "2023/24-2024/25"}


def test_an_unknown_code_of_a_required_field_counts_as_not_recorded():
    # Stage U for 30% of T05's patients: early_stage would silently take the rest; it is refused.
    rng = np.random.default_rng(8)
    trust = np.repeat(TRUSTS[:6], 100)
    stage = rng.choice(["1", "2", "3", "4"], trust.size).astype(object)
    stage[(trust == "T05") & (np.arange(trust.size) % 10 < 3)] = "U"
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(trust.size)],
            "provider_code": trust,
            "diagnosis_date": pd.Timestamp("2023-05-01"),
            "stage": stage,
        }
    )
    results = run(frame, BOWEL["early_stage"], extract=date(2025, 3, 31)).results.set_index(["level", "organisation"])
    t05 = results.loc[("provider", "T05")]
    assert t05["field_completeness"] == pytest.approx(0.7) and np.isnan(t05["value"])
    assert results.loc[("provider", "T00")]["field_completeness"] == 1
