"""One owner for each word: the funnel methods, levels, England's code, run statuses and the "finite or None"
number (issue 12). Each list is declared once; the places that offer it ask its owner, so they cannot diverge."""

import math

import numpy as np
import pytest
import yaml

from audits.schema import DefinitionError, parse_definition
from indicators import funnel_tool
from indicators.definitions import FUNNEL_METHODS, parse_indicators
from indicators.levels import ENGLAND_CODE, LEVELS
from indicators.models import ComputationRun, Level, RunIndicator, RunStatus
from indicators.stats.analysis import funnel_analysis
from indicators.stats.arrays import finite_or_none
from indicators.stats.vocabulary import DEFAULT_METHOD, NEEDS_PATIENTS, PROPORTION_METHODS, RATIO_METHODS
from tests.conftest import FIXTURES

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
ENGINE_METHODS = {"proportion": PROPORTION_METHODS, "ratio": RATIO_METHODS}
TABLES = {
    "proportion": "unit,numerator,denominator\nA,30,100\nB,45,150\nC,10,80\nD,80,200\nE,5,20\n",
    "ratio": "unit,observed,expected\nA,15,15\nB,30,20\nC,12,30\nD,25,24\nE,3,6\n",
}


def _indicator_with(method: str, *, risk_adjusted: bool):
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    index, indicator = next((n, i) for n, i in enumerate(raw["indicators"]) if ("risk_model" in i) is risk_adjusted)
    indicator["funnel_method"] = method
    return parse_indicators(parse_definition(raw, origin="bowel.yaml"))[index]


@pytest.mark.parametrize("kind", ["proportion", "ratio"])
def test_a_definition_accepts_exactly_the_engines_methods_the_first_being_the_default(kind):
    assert FUNNEL_METHODS[kind] == ENGINE_METHODS[kind] and FUNNEL_METHODS[kind][0] == DEFAULT_METHOD
    for method in ENGINE_METHODS[kind]:
        assert _indicator_with(method, risk_adjusted=kind == "ratio").funnel_method == method
    with pytest.raises(DefinitionError, match=f"funnel_method for a {kind} must be one of"):
        _indicator_with("bisection", risk_adjusted=kind == "ratio")


def test_cqc_is_a_ratio_method_of_the_engine_so_a_definition_may_choose_it():
    """The three lists disagreed on ``cqc``: the engine draws and flags it (FunnelPlotR's CQC square-root scale),
    so a definition and the funnel tool offer it too."""
    assert _indicator_with("cqc", risk_adjusted=True).funnel_method == "cqc"
    assert "cqc" in funnel_tool.METHODS["ratio"]


@pytest.mark.parametrize("kind", ["proportion", "ratio"])
def test_the_funnel_tool_offers_every_method_a_table_can_use_and_each_one_draws(kind):
    offered = funnel_tool.METHODS[kind]
    assert offered == tuple(m for m in ENGINE_METHODS[kind] if m not in NEEDS_PATIENTS)
    for method in offered:
        result = funnel_tool.analyse(funnel_tool.read_table(TABLES[kind], kind), method=method, overdispersion="none")
        assert result.method == method and len(result.units) == 5
    with pytest.raises(funnel_tool.AggregateError, match=f"method for a {kind} must be one of"):
        funnel_tool.analyse(funnel_tool.read_table(TABLES[kind], kind), method="bisection", overdispersion="none")


def test_a_method_that_needs_patients_is_refused_without_them():
    for method in NEEDS_PATIENTS:
        with pytest.raises(ValueError, match="patients"):
            funnel_analysis(["A", "B"], [5, 9], [6.0, 7.0], kind="ratio", method=method)
        assert method not in funnel_tool.METHODS["ratio"]


def test_the_levels_and_englands_code_have_one_owner():
    assert tuple(Level.values) == LEVELS == ("provider", "alliance", "national")
    assert ENGLAND_CODE == "E92000001"  # ONS code of England


def test_a_run_and_its_indicators_share_one_set_of_statuses():
    assert ComputationRun.Status is RunStatus and RunIndicator.Status is RunStatus
    assert RunStatus.values == ["queued", "running", "done", "failed"]


@pytest.mark.parametrize(
    "value, expected",
    [
        (2.5, 2.5),
        (np.float64(0.25), 0.25),
        (np.int64(3), 3.0),
        ("4", 4.0),
        (None, None),
        ("x", None),
        (math.nan, None),
        (np.float64(math.inf), None),
        (-math.inf, None),
    ],
)
def test_finite_or_none_gives_a_json_safe_number(value, expected):
    result = finite_or_none(value)
    assert result == expected and (result is None or type(result) is float)
