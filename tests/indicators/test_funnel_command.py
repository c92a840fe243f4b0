"""The funnel command for any aggregated table: the same analysis as the jobs."""

import json

import pytest
from django.core.management import call_command

from indicators.stats.intervals import wilson_interval
from tests.conftest import run_command

TABLE = "unit,numerator,denominator\nA,30,100\nB,45,150\nC,10,80\nD,80,200\nE,5,20\n"


def test_it_prints_the_funnel_as_json_for_a_proportion_table(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text(TABLE)
    code, out, _ = run_command("funnel", str(path), kind="proportion", json=True)
    data = json.loads(out)
    assert code == 0
    assert data["target"] == pytest.approx(170 / 550, rel=1e-12)  # pooled: sum of numerators / denominators
    assert set(data) >= {"target", "phi", "tau2", "overdispersion_applied", "units"}
    assert data["overdispersion_applied"] is (data["phi"] > 1)
    a = next(u for u in data["units"] if u["unit"] == "A")
    low, high = wilson_interval(30, 100, 0.95)
    assert (a["value"], a["ci_lower"], a["ci_upper"]) == (0.3, pytest.approx(float(low)), pytest.approx(float(high)))
    for unit in data["units"]:
        assert 0 <= unit["limit_lower_998"] <= unit["limit_lower_95"] <= data["target"]
        assert data["target"] <= unit["limit_upper_95"] <= unit["limit_upper_998"] <= 1
        assert set(unit) >= {
            "unit",
            "value",
            "ci_lower",
            "ci_upper",
            "z",
            "limit_lower_95",
            "limit_upper_95",
            "limit_lower_998",
            "limit_upper_998",
            "flag",
        }
    c = next(u for u in data["units"] if u["unit"] == "C")
    assert c["flag"] in ("alert_low", "alarm_low")  # 10/80 = 12.5% against 30.9%


def test_ratio_tables_use_observed_and_expected_with_a_target_of_one(tmp_path):
    path = tmp_path / "ratio.csv"
    path.write_text("unit,observed,expected\nX,15,15\nY,30,20\nZ,12,30\n")
    code, out, _ = run_command("funnel", str(path), kind="ratio", method="shmi", overdispersion="none", json=True)
    data = json.loads(out)
    assert code == 0 and data["target"] == 1 and data["overdispersion_applied"] is False
    x = next(u for u in data["units"] if u["unit"] == "X")
    # SHMI limits without overdispersion: exp(+-z / sqrt(E)) at E = 15
    import math

    assert x["limit_upper_95"] == pytest.approx(math.exp(1.959963984540054 / math.sqrt(15)), rel=1e-9)


def test_a_bad_table_is_refused_with_its_lines(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("unit,numerator,denominator\nA,5,10\nB,x,10\nC,12,10\nA,1,2\n")
    code, _, err = run_command("funnel", str(path), kind="proportion")
    assert code == 1
    assert "line 3, column numerator: numerator must be a number of zero or more" in err
    assert "line 4, column numerator: numerator is larger than denominator" in err
    assert "line 5, column unit: unit repeated (first on line 2)" in err


def test_a_ratio_table_needs_its_own_columns(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text(TABLE)
    with pytest.raises(SystemExit):
        call_command("funnel", str(path), kind="ratio")


def test_the_default_is_the_calibrated_midp_method_and_z_is_the_flag_statistic(tmp_path):
    # A zero count at a small unit: 0 of 20 against about 9% has low mid-p ½·0.91^20 = 0.077,
    # nothing unusual, so it is drawn on or above the lower limit and labelled "none".
    path = tmp_path / "table.csv"
    path.write_text("unit,numerator,denominator\nA,0,20\nB,95,1000\nC,60,1000\nD,120,1000\nE,2,40\n")
    code, out, _ = run_command("funnel", str(path), kind="proportion", overdispersion="none", json=True)
    data = json.loads(out)
    assert code == 0 and data["method"] == "midp"
    for unit in data["units"]:
        high, low = unit["z"] > 1.959963984540054, unit["z"] < -1.959963984540054
        assert unit["flag"].endswith("_high") == high and unit["flag"].endswith("_low") == low
        drawn_low = unit["value"] < unit["limit_lower_95"]
        drawn_high = unit["value"] > unit["limit_upper_95"]
        assert (drawn_low, drawn_high) == (low, high)
    a = next(u for u in data["units"] if u["unit"] == "A")
    assert a["flag"] == "none"
    code, out, _ = run_command("funnel", str(path), kind="proportion", method="exact", json=True)
    assert code == 0 and json.loads(out)["method"] == "exact"
