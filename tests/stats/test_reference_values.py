"""Reproduce the published test values of the peer packages.

* PHEindicatormethods v2.1.0 (``reference-values/phe``): Wilson, Byar's,
  exact Poisson, proportions, crude rates, ISRs, funnel limits (inverted
  Wilson, bisection Poisson) and funnel significance labels.
* FunnelPlotR v0.6.0 (``reference-values/funnelplotr``): exact Poisson SR
  limits, the dispersion ratio of its class test, the medpar outlier counts.
* docs/domain.md appendix C (tables C1-C5).

Tolerances: relative 1e-8 for closed forms; values the peer obtains by
bisection are compared at relative 1e-6 (we replicate its bisection, the
brief allows 1e-4); PHE's default proportion funnel table is printed to six
decimals, so it is compared at absolute 5e-7.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest

from indicators.stats.analysis import funnel_analysis
from indicators.stats.funnel import proportion_limits, ratio_limits
from indicators.stats.intervals import (
    byars_interval,
    exact_poisson_interval,
    poisson_count_interval,
    ratio_interval,
    wilson_interval,
)
from indicators.stats.overdispersion import estimate_overdispersion
from indicators.stats.peers.phe import (
    phe_funnel_grid,
    phe_funnel_significance,
    phe_rate_denominators,
    phe_ratio_funnel_limits,
)

from .conftest import load_reference, reference_rows

pytestmark = pytest.mark.filterwarnings("error")

CLOSED = 1e-8
BISECTION = 1e-6


def close(actual, expected, rel: float = CLOSED, abs_: float = 0.0) -> None:
    """Assert equality within tolerance; an expected NaN/blank demands NaN."""
    actual = float(np.asarray(actual))
    expected = float(expected)
    if math.isnan(expected):
        assert math.isnan(actual), f"expected NaN, got {actual!r}"
        return
    assert actual == pytest.approx(expected, rel=rel, abs=abs_)


def confidence_of(label: str) -> float:
    return {"95%": 0.95, "99.8%": 0.998}[label]


# ---------------------------------------------------------------------------
# PHE single-unit intervals
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/byars_wilson_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/byars_wilson_expected.csv")],
)
def test_phe_byars_wilson(row: dict) -> None:
    conf = confidence_of(row["confidence"])
    if row["method"] == "Byars":
        lo, hi = byars_interval(row["x"], conf)
    else:
        lo, hi = wilson_interval(row["x"], row["n"], conf)
    close(lo, row["lowercl"])
    close(hi, row["uppercl"])


def test_phe_byars_negative_lower_is_nan() -> None:
    # Row 13 of the fixture: Byar's 99.8% lower limit for x = 1 is negative.
    lo, hi = byars_interval(1, 0.998)
    assert math.isnan(float(lo))
    assert float(hi) == pytest.approx(9.36218021790836, rel=CLOSED)


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/phe_proportion_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/phe_proportion_expected.csv")],
)
def test_phe_proportion(row: dict) -> None:
    x, n, mult = row["Numerator"], row["Denominator"], row["multiplier"]
    with np.errstate(invalid="ignore"):
        close(x / n * mult, row["value"])
    lo95, hi95 = wilson_interval(x, n, 0.95)
    lo998, hi998 = wilson_interval(x, n, 0.998)
    close(lo95 * mult, row["lower95_0cl"])
    close(hi95 * mult, row["upper95_0cl"])
    close(lo998 * mult, row["lower99_8cl"])
    close(hi998 * mult, row["upper99_8cl"])


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/phe_proportion_grouped_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/phe_proportion_grouped_expected.csv")],
)
def test_phe_proportion_grouped(row: dict) -> None:
    x, n, mult = row["Numerator"], row["Denominator"], row["multiplier"]
    lo, hi = wilson_interval(x, n, confidence_of(row["confidence"]))
    close(x / n * mult, row["value"])
    close(lo * mult, row["lowercl"])
    close(hi * mult, row["uppercl"])


def _check_rate_method(x: float, method) -> None:
    # PHE's label says which count interval it used: exact below 10 events.
    if isinstance(method, str):
        assert method == ("Exact" if x < 10 else "Byars")
    else:
        assert math.isnan(x)


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/phe_rate_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/phe_rate_expected.csv")],
)
def test_phe_crude_rate(row: dict) -> None:
    x, n, mult = row["Numerator"], row["Denominator"], row["multiplier"]
    close(x / n * mult, row["value"])
    lo95, hi95 = poisson_count_interval(x, 0.95)
    lo998, hi998 = poisson_count_interval(x, 0.998)
    close(lo95 / n * mult, row["lower95_0cl"])
    close(hi95 / n * mult, row["upper95_0cl"])
    close(lo998 / n * mult, row["lower99_8cl"])
    close(hi998 / n * mult, row["upper99_8cl"])
    _check_rate_method(x, row["method"])


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/phe_rate_grouped_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/phe_rate_grouped_expected.csv")],
)
def test_phe_crude_rate_grouped(row: dict) -> None:
    x, n, mult = row["Numerator"], row["Denominator"], row["multiplier"]
    lo, hi = poisson_count_interval(x, confidence_of(row["confidence"]))
    close(x / n * mult, row["value"])
    close(lo / n * mult, row["lowercl"])
    close(hi / n * mult, row["uppercl"])
    _check_rate_method(x, row["method"])


def _isr_scale(row: dict) -> float:
    statistic = row["statistic"]
    if "rate" in statistic:
        return row["ref_rate"]  # indirectly standardised rate = O/E × reference rate
    return 100.0 if statistic.endswith("x 100") else 1.0


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("phe/isr_expected.csv")],
    ids=[i for i, _ in reference_rows("phe/isr_expected.csv")],
)
def test_phe_isr(row: dict) -> None:
    o, e, scale = row["observed"], row["expected"], _isr_scale(row)
    close(o / e * scale, row["value"])
    lo95, hi95 = ratio_interval(o, e, 0.95, method="phe")
    close(lo95 * scale, row["lower95_0cl"])
    close(hi95 * scale, row["upper95_0cl"])
    if not math.isnan(row["lower99_8cl"]):  # rows 13-16 publish 95% only
        lo998, hi998 = ratio_interval(o, e, 0.998, method="phe")
        close(lo998 * scale, row["lower99_8cl"])
        close(hi998 * scale, row["upper99_8cl"])
    _check_rate_method(o, row["method"])


# ---------------------------------------------------------------------------
# PHE funnel limits
# ---------------------------------------------------------------------------


@cache
def _prop_inputs() -> pd.DataFrame:
    return load_reference("phe/funnel_prop_inputs_with_significance.csv")


@cache
def _phe_prop_funnel(filtered: bool) -> pd.DataFrame:
    """PHE calculate_funnel_limits(statistic = "proportion", multiplier = 100)."""
    data = _prop_inputs()
    if filtered:
        data = data[data["denominator"] < 31000]
    average = data["numerator"].sum() / data["denominator"].sum()
    grid = phe_funnel_grid(data["denominator"], "proportion")
    lo95, hi95 = proportion_limits(average, grid, 0.95, method="wilson")
    lo998, hi998 = proportion_limits(average, grid, 0.998, method="wilson")
    return pd.DataFrame(
        {
            "Population": grid,
            "lower_2s_limit": lo95 * 100,
            "upper_2s_limit": hi95 * 100,
            "lower_3s_limit": lo998 * 100,
            "upper_3s_limit": hi998 * 100,
            "baseline": np.full(grid.shape, average * 100),
        }
    )


PROP_LIMIT_COLUMNS = ["lower_2s_limit", "upper_2s_limit", "lower_3s_limit", "upper_3s_limit", "baseline"]


@pytest.mark.parametrize(
    "i,row",
    list(enumerate(r for _, r in reference_rows("phe/funnel_prop_limits_expected.csv"))),
    ids=[i for i, _ in reference_rows("phe/funnel_prop_limits_expected.csv")],
)
def test_phe_proportion_funnel_limits(i: int, row: dict) -> None:
    ours = _phe_prop_funnel(False).iloc[i]
    assert ours["Population"] == row["Population"]
    for column in PROP_LIMIT_COLUMNS:
        # The fixture is printed to 6 decimals.
        close(ours[column], row[column], rel=CLOSED, abs_=5e-7)


@pytest.mark.parametrize(
    "i,row",
    list(enumerate(r for _, r in reference_rows("phe/funnel_prop_limits_axis_variation_expected.csv"))),
    ids=[i for i, _ in reference_rows("phe/funnel_prop_limits_axis_variation_expected.csv")],
)
def test_phe_proportion_funnel_limits_axis_variation(i: int, row: dict) -> None:
    ours = _phe_prop_funnel(True).iloc[i]
    assert ours["Population"] == row["Population"]
    for column in PROP_LIMIT_COLUMNS:
        close(ours[column], row[column], rel=CLOSED)
    assert row["statistic"] == "proportion" and row["method"] == "Wilson"


@cache
def _ratio_inputs() -> pd.DataFrame:
    return load_reference("phe/funnel_ratio_inputs_with_significance.csv")


@cache
def _phe_ratio_funnel() -> pd.DataFrame:
    """PHE calculate_funnel_limits(statistic = "ratio"): grid over observed
    counts derived from the range of expected counts."""
    grid = phe_funnel_grid(_ratio_inputs()["expected"], "ratio")
    out = {"Observed_events": grid}
    for conf, tag in ((0.95, "2s"), (0.998, "3s")):
        lim = phe_ratio_funnel_limits(grid, conf)
        for side, expected, ratio in (
            ("lower", lim.lower_expected, lim.lower),
            ("upper", lim.upper_expected, lim.upper),
        ):
            out[f"{side}_{tag}_exp_events"] = expected
            out[f"{side}_{tag}_count"] = ratio - 1.0
            out[f"{side}_{tag}_isr"] = ratio * 100.0
    return pd.DataFrame(out)


@pytest.mark.parametrize(
    "i,row",
    list(enumerate(r for _, r in reference_rows("phe/funnel_ratio_limits_expected.csv"))),
    ids=[i for i, _ in reference_rows("phe/funnel_ratio_limits_expected.csv")],
)
def test_phe_ratio_funnel_limits(i: int, row: dict) -> None:
    ours = _phe_ratio_funnel().iloc[i]
    assert ours["Observed_events"] == row["Observed_events"]
    for column, expected in row.items():
        if column == "Observed_events":
            continue
        if column.endswith("_count"):
            # ratio − 1 loses relative precision near a ratio of 1; compare the ratio.
            close(ours[column] + 1.0, expected + 1.0, rel=BISECTION)
        else:
            close(ours[column], expected, rel=BISECTION)


def _rate_funnel(
    events, rate, population=None, *, rate_type: str, multiplier: float = 1e5, years: float = 3.0
) -> pd.DataFrame:
    """PHE calculate_funnel_limits(statistic = "rate") from the public pieces."""
    derived = phe_rate_denominators(events, rate, multiplier, rate_type, population)
    average = float(np.nansum(np.asarray(events, float)) / np.nansum(derived))
    grid = phe_funnel_grid(derived, "rate", average=average, years_of_data=years)
    out = {"Events": grid}
    for conf, tag in ((0.95, "2s"), (0.998, "3s")):
        lim = phe_ratio_funnel_limits(grid, conf)
        out[f"lower_{tag}_population_1_year"] = lim.lower_expected / average / years
        out[f"lower_{tag}_limit"] = lim.lower * average * multiplier
        out[f"upper_{tag}_population_1_year"] = lim.upper_expected / average / years
        out[f"upper_{tag}_limit"] = lim.upper * average * multiplier
    out["baseline"] = np.full(grid.shape, average * multiplier)
    return pd.DataFrame(out)


@cache
def _rate_funnels() -> dict[str, pd.DataFrame]:
    data = load_reference("phe/funnel_rate_funnel_inputs.csv")
    ev = data["ev"].to_numpy(float)
    rate = data["rate"].to_numpy(float)
    is_max = ev == ev.max()
    results = {"dsr": _rate_funnel(ev, rate, rate_type="dsr")}
    # testFunnels.R: crude rates with the largest count replaced by 5 events.
    results["crude"] = _rate_funnel(np.where(is_max, 5.0, ev), rate, rate_type="crude")
    # ... and with that unit given 0 events (rate 0) plus supplied populations,
    # keeping units with more than half the largest population.
    pop = 1e5 * ev / rate
    keep = pop > pop.max() / 2
    results["crude_with_zero"] = _rate_funnel(
        np.where(is_max, 0.0, ev)[keep], np.where(is_max, 0.0, rate)[keep], pop[keep], rate_type="crude"
    )
    return results


RATE_FUNNEL_CASES = [
    (variant, i, row)
    for variant in ("dsr", "crude", "crude_with_zero")
    for i, (_, row) in enumerate(reference_rows(f"phe/funnel_rate_limits_{variant}_expected.csv"))
]


@pytest.mark.parametrize("variant,i,row", RATE_FUNNEL_CASES, ids=[f"{v}-row{i + 1}" for v, i, _ in RATE_FUNNEL_CASES])
def test_phe_rate_funnel_limits(variant: str, i: int, row: dict) -> None:
    ours = _rate_funnels()[variant].iloc[i]
    assert ours["Events"] == row["Events"]
    for column, expected in row.items():
        if column in ("Events", "statistic", "method"):
            continue
        close(ours[column], expected, rel=BISECTION)


# ---------------------------------------------------------------------------
# PHE funnel significance labels
# ---------------------------------------------------------------------------


@cache
def _prop_labels() -> np.ndarray:
    data = _prop_inputs()
    return phe_funnel_significance(data["numerator"], data["denominator"], "proportion")


@pytest.mark.parametrize(
    "i,row",
    list(enumerate(r for _, r in reference_rows("phe/funnel_prop_inputs_with_significance.csv"))),
    ids=[i for i, _ in reference_rows("phe/funnel_prop_inputs_with_significance.csv")],
)
def test_phe_proportion_significance(i: int, row: dict) -> None:
    assert _prop_labels()[i] == row["significance"]


@cache
def _ratio_labels() -> np.ndarray:
    data = _ratio_inputs()
    return phe_funnel_significance(data["obs"], data["expected"], "ratio")


@pytest.mark.parametrize(
    "i,row",
    list(enumerate(r for _, r in reference_rows("phe/funnel_ratio_inputs_with_significance.csv"))),
    ids=[i for i, _ in reference_rows("phe/funnel_ratio_inputs_with_significance.csv")],
)
def test_phe_ratio_significance(i: int, row: dict) -> None:
    assert _ratio_labels()[i] == row["significance"]


RATE_SIG_VARIANTS = {
    # column stem: (rate column, rate type, multiplier)
    "dsr_per_100000": ("rate_dsr", "dsr", 1e5),
    "dsr_per_100": ("rate_dsr", "dsr", 100.0),
    "crude_per_100000": ("rate_crude_per_100000", "crude", 1e5),
    "crude_per_100": ("rate_crude_per_100", "crude", 100.0),
}


@cache
def _rate_labels(stem: str, with_zero: bool) -> pd.Series:
    data = load_reference("phe/funnel_rate_inputs_with_significance.csv")
    if not with_zero:
        data = data[data["count"] != 0]
    rate_col, rate_type, mult = RATE_SIG_VARIANTS[stem]
    labels = phe_funnel_significance(
        data["count"], data["pop"], "rate", rate=data[rate_col], rate_type=rate_type, multiplier=mult
    )
    return pd.Series(labels, index=data.index)


RATE_SIG_CASES = [
    (stem, with_zero, i, row)
    for stem in RATE_SIG_VARIANTS
    for with_zero in (True, False)
    for i, (_, row) in enumerate(reference_rows("phe/funnel_rate_inputs_with_significance.csv"))
    if with_zero or row["count"] != 0
]


@pytest.mark.parametrize(
    "stem,with_zero,i,row",
    RATE_SIG_CASES,
    ids=[f"{s}-{'with' if w else 'without'}_0-row{i + 1}" for s, w, i, _ in RATE_SIG_CASES],
)
def test_phe_rate_significance(stem: str, with_zero: bool, i: int, row: dict) -> None:
    expected = row[f"{stem}_{'with' if with_zero else 'without'}_0"]
    assert _rate_labels(stem, with_zero).loc[i] == expected


# ---------------------------------------------------------------------------
# FunnelPlotR
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [r for _, r in reference_rows("funnelplotr/poisson_limits_sr_unadjusted.csv")],
    ids=[i for i, _ in reference_rows("funnelplotr/poisson_limits_sr_unadjusted.csv")],
)
def test_funnelplotr_exact_poisson_limits(row: dict) -> None:
    lo95, hi95 = ratio_limits(row["number_seq"], 0.95, method="exact")
    lo998, hi998 = ratio_limits(row["number_seq"], 0.998, method="exact")
    close(lo95, row["ll95"])
    close(hi95, row["ul95"])
    close(lo998, row["ll998"])
    close(hi998, row["ul998"])


@pytest.mark.parametrize(
    "e,ll95,ul95,ll998,ul998",
    [
        # tests/testthat/test-poisson_limits.R (rounded as the peer asserts them)
        (15, 0.5596924, 1.649348, 0.3862650, 2.082907),
        (20, 0.6108260, 1.544419, 0.4479107, 1.902094),
        (30, 0.6746958, 1.427562, 0.5289724, 1.702771),
    ],
)
def test_funnelplotr_exact_poisson_limits_rounded(e, ll95, ul95, ll998, ul998) -> None:
    lo95, hi95 = ratio_limits(e, 0.95)
    lo998, hi998 = ratio_limits(e, 0.998)
    assert round(float(lo95), 7) == ll95 and round(float(lo998), 7) == ll998
    assert round(float(hi95), 6) == ul95 and round(float(hi998), 6) == ul998


def test_funnelplotr_classes_phi() -> None:
    data = load_reference("funnelplotr/classes_methods_example_inputs.csv")
    est = estimate_overdispersion("ratio", "shmi", data["num"], data["denom"], 1.0, trim=0.1)
    assert est.phi == pytest.approx(2.948033, abs=1e-6)
    assert round(est.phi, 6) == 2.948033
    # Six units: SHMI truncation by rank groups drops none of them.
    assert est.n_units == 6 and est.trimming == "truncate"


@cache
def _medpar() -> pd.DataFrame:
    return load_reference("funnelplotr/medpar_aggregated_inputs.csv")


def test_funnelplotr_medpar_unadjusted_outliers() -> None:
    data = _medpar()
    result = funnel_analysis(
        data["provider"],
        data["observed"],
        data["expected_unrounded"],
        kind="ratio",
        method="exact",
        overdispersion="none",
    )
    assert len(result.units) == 54
    # FunnelPlotR counts a point as an outlier when strictly outside the
    # 99.8% limits ("limit = 99"): alarms in our terms.
    assert result.units["flag"].isin(["alarm_low", "alarm_high"]).sum() == 25
    assert not result.overdispersion_applied


@pytest.mark.parametrize("shmi_rounding", [False, True])
def test_funnelplotr_medpar_shmi_adjusted_outliers(shmi_rounding: bool) -> None:
    data = _medpar()
    expected = data["expected_unrounded"]
    if shmi_rounding:  # FunnelPlotR's default SHMI_rounding = TRUE (2 dp)
        expected = expected.round(2)
    result = funnel_analysis(
        data["provider"], data["observed"], expected, kind="ratio", method="shmi", overdispersion="auto"
    )
    assert result.overdispersion_applied and result.phi > 1
    # 10% truncation of 54 ranked units keeps 44.
    assert result.n_units == 44
    assert result.units["flag"].isin(["alarm_low", "alarm_high"]).sum() == 9


def test_funnelplotr_aggregate_rr() -> None:
    # tests/testthat/test-aggregate_fun.R: rows are summed per group.
    result = funnel_analysis(
        ["a", "a", "a", "b", "b", "c"], [100, 150, 180, 89, 120, 225], [102, 135, 165, 95, 100, 220], kind="ratio"
    )
    assert list(result.units["unit"]) == ["a", "b", "c"]
    assert [round(v, 6) for v in result.units["value"]] == [1.069652, 1.071795, 1.022727]


# ---------------------------------------------------------------------------
# docs/domain.md appendix C
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x,n,conf,lower,upper",
    [
        (65, 100, 0.95, 0.5525444329688797, 0.7363575175690247),
        (65, 100, 0.998, 0.4954946574070431, 0.7783540614089697),
        (1045, 5000, 0.95, 0.19795549880013297, 0.22049130373189027),
        (1045, 5000, 0.998, 0.19179381799015244, 0.22731562902525818),
        (1, 100, 0.95, 0.0017674320641406511, 0.054486196178705294),
        (999, 3456, 0.95, 0.27418951080009873, 0.30440389662818057),
        (0, 20, 0.95, 0.0, 0.1611251581),
        (20, 20, 0.95, 0.8388748419, 1.0),
    ],
    ids=[
        "C1-65/100-95",
        "C1-65/100-998",
        "C1-1045/5000-95",
        "C1-1045/5000-998",
        "C1-1/100",
        "C1-999/3456",
        "C1-0/20",
        "C1-20/20",
    ],
)
def test_domain_c1_wilson(x, n, conf, lower, upper) -> None:
    lo, hi = wilson_interval(x, n, conf)
    rel = CLOSED if x not in (0, n) else 1e-9  # 0/20 and 20/20 are given to 10 digits
    close(lo, lower, rel=rel)
    close(hi, upper, rel=rel)


@pytest.mark.parametrize(
    "x,conf,lower,upper",
    [
        (65, 0.95, 50.163187710459454, 82.84913854593984),
        (65, 0.998, 42.8802614714802, 94.00029084431802),
        (1045, 0.95, 982.5932018073325, 1110.33121298565),
        (1, 0.95, 0.01307213290150435, 5.5637555824752605),
        (10, 0.998, 2.916318374695686, 24.193724927880535),
    ],
    ids=["C2-65-95", "C2-65-998", "C2-1045-95", "C2-1-95", "C2-10-998"],
)
def test_domain_c2_byars(x, conf, lower, upper) -> None:
    lo, hi = byars_interval(x, conf)
    close(lo, lower)
    close(hi, upper)


@pytest.mark.parametrize("x,lower,upper", [(9, 4.115373097, 17.08480345), (0, 0.0, 3.688879454)], ids=["C3-9", "C3-0"])
def test_domain_c3_exact_poisson(x, lower, upper) -> None:
    lo, hi = exact_poisson_interval(x, 0.95)
    close(lo, lower, rel=1e-9)  # given to 10 significant digits
    close(hi, upper, rel=1e-9)


C4_E = 835.8835612311743


@pytest.mark.parametrize(
    "o,isr,lo95,hi95,lo998,hi998",
    [
        (
            9,
            0.010767049882813684,
            0.004923380825095776,
            0.02043921455549973,
            0.0029339306550682617,
            0.02710589651469021,
        ),
        (895, 1.0707232939020275, 1.0017147712553987, 1.143233287249895, 0.9635155619614437, 1.1860070415876287),
    ],
    ids=["C4-9-exact", "C4-895-byars"],
)
def test_domain_c4_isr(o, isr, lo95, hi95, lo998, hi998) -> None:
    close(o / C4_E, isr)
    lo, hi = ratio_interval(o, C4_E, 0.95, method="phe")
    close(lo, lo95)
    close(hi, hi95)
    lo, hi = ratio_interval(o, C4_E, 0.998, method="phe")
    close(lo, lo998)
    close(hi, hi998)


def test_domain_c5_matches_funnelplotr_file() -> None:
    # C5 is FunnelPlotR's rounded test; the full-precision file must round to it.
    data = load_reference("funnelplotr/poisson_limits_sr_unadjusted.csv")
    lo, hi = ratio_limits(data["number_seq"], 0.95)
    np.testing.assert_allclose(lo, data["ll95"], rtol=CLOSED)
    np.testing.assert_allclose(hi, data["ul95"], rtol=CLOSED)
    np.testing.assert_allclose(np.round(lo, 7), [0.5596924, 0.6108260, 0.6746958])


def test_domain_wilson_funnel_forms_differ() -> None:
    # docs/domain.md §3.2: θ = 0.35, n = 100, 95%: PHE's inverted Wilson gives
    # 0.2565-0.4435, whereas the Wilson interval of the expected count gives
    # 0.2636-0.4475.
    lo, hi = proportion_limits(0.35, 100, 0.95, method="wilson")
    assert round(float(lo), 4) == 0.2565 and round(float(hi), 4) == 0.4435
    lo2, hi2 = wilson_interval(35, 100, 0.95)
    assert round(float(lo2), 4) == 0.2636 and round(float(hi2), 4) == 0.4475


def test_missing_reference_folder_fails_loudly(monkeypatch, tmp_path) -> None:
    # The loaders raise (and collection errors) rather than skipping.
    from . import conftest

    monkeypatch.setattr(conftest, "REFERENCE_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError):
        conftest.load_reference("phe/byars_wilson_expected.csv")
