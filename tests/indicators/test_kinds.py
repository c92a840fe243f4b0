"""An indicator's kind is declared (``kind:``), defaults as its risk model implies, and is one module.

``indicators/kinds/`` holds one module per kind (what differs: expected events, statistic and
interval, value shown, funnel family and target, XmR range); a declared kind that contradicts the
entry's ``risk_model`` is refused like any other definition error, naming file, entry and key.
"""

from __future__ import annotations

import dataclasses
import json
import pkgutil
import sys
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import indicators.kinds
from audits.schema import DefinitionError, parse_definition
from indicators.compute import IndicatorOutput, compute_indicator
from indicators.definitions import IndicatorDefinition, parse_indicators
from indicators.kinds import KINDS
from indicators.stats.intervals import ratio_interval, wilson_interval
from tests.conftest import FIXTURES, run_command

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"


def bowel_with(code: str, **keys: Any) -> dict[str, Any]:
    """The bowel definition as YAML reads it, with ``keys`` set on indicator ``code``."""
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text(encoding="utf-8"))
    next(item for item in raw["indicators"] if item["code"] == code).update(keys)
    return raw


def parsed(raw: dict[str, Any]) -> dict[str, Any]:
    return {i.code: i for i in parse_indicators(parse_definition(raw, origin="bowel.yaml"))}


def test_each_module_of_the_package_is_a_kind_named_as_it():
    modules = [m.name for m in pkgutil.iter_modules(indicators.kinds.__path__) if m.name != "base"]
    assert sorted(modules) == sorted(KINDS) == ["proportion", "ratio"]
    assert {name: (kind.risk_adjusted, kind.funnel) for name, kind in KINDS.items()} == {
        "proportion": (False, "proportion"),
        "ratio": (True, "ratio"),
    }


def test_a_new_kind_is_one_new_module(tmp_path, monkeypatch, request):
    """A module dropped into the package is found, offered to definitions and computed: nothing else to edit."""
    request.addfinalizer(lambda: sys.modules.pop("indicators.kinds.rate", None))
    (tmp_path / "rate.py").write_text(
        "from indicators.kinds.proportion import Proportion\n\n\n"
        "class Rate(Proportion):\n    name = 'rate'\n    limits_within = (0.0, None)\n\n\n"
        "KIND = Rate()\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(indicators.kinds, "__path__", [*indicators.kinds.__path__, str(tmp_path)])
    found = indicators.kinds._discovered()
    assert list(found) == ["proportion", "rate", "ratio"]
    monkeypatch.setitem(KINDS, "rate", found["rate"])
    declared = parsed(bowel_with("mdt_discussed", kind="rate"))["mdt_discussed"]
    assert declared.kind == "rate" and declared.declared_kind == "rate"
    output, proportion = computed(declared), computed(parsed(bowel_with("mdt_discussed"))["mdt_discussed"])
    pd.testing.assert_frame_equal(output.results, proportion.results)  # a rate here is a proportion by another name


def test_without_kind_an_indicator_is_a_ratio_when_it_has_a_risk_model_else_a_proportion():
    bowel = parsed(yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text(encoding="utf-8")))
    kinds = {code: (item.kind, item.declared_kind) for code, item in bowel.items()}
    assert kinds["mortality_90d"] == ("ratio", None) and kinds["mdt_discussed"] == ("proportion", None)
    assert {code for code, (kind, _) in kinds.items() if kind == "ratio"} == {
        code for code, item in bowel.items() if item.risk_model is not None
    }


@pytest.mark.parametrize("code, kind", [("mortality_90d", "ratio"), ("mdt_discussed", "proportion")])
def test_a_declared_kind_that_agrees_is_the_same_indicator(code, kind):
    implied = parsed(bowel_with(code))[code]
    declared = parsed(bowel_with(code, kind=kind))[code]
    assert declared.kind == implied.kind == kind and declared.declared_kind == kind
    assert dataclasses.replace(declared, declared_kind=None) == implied


# (indicator, declared kind, words of the message)
REFUSED = [
    ("mortality_90d", "proportion", "kind proportion takes no risk_model (an indicator with one is a ratio)"),
    ("mdt_discussed", "ratio", "kind ratio needs a risk_model"),
    ("mdt_discussed", "rate", "kind must be one of proportion, ratio"),
    ("mdt_discussed", ["proportion"], "kind must be one of proportion, ratio"),
]


@pytest.mark.parametrize("code, kind, words", REFUSED)
def test_a_kind_the_entry_contradicts_is_refused_naming_file_entry_and_key(code, kind, words):
    with pytest.raises(DefinitionError) as caught:
        parsed(bowel_with(code, kind=kind))
    error = caught.value
    assert (error.file, error.entry, error.key, error.problem) == ("bowel.yaml", f"indicator {code}", "kind", words)


def test_a_contradicting_kind_stops_check_definition(tmp_path):
    path = tmp_path / "bowel.yaml"
    path.write_text(yaml.safe_dump(bowel_with("mortality_90d", kind="proportion"), sort_keys=False), encoding="utf-8")
    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    [problem] = json.loads(out)
    assert (problem["id"], problem["entry"], problem["key"]) == ("definitions.E001", "indicator mortality_90d", "kind")


def test_a_funnel_method_is_checked_against_the_family_of_the_kind():
    with pytest.raises(DefinitionError, match="funnel_method for a ratio must be one of midp, exact, shmi, cqc, isp"):
        parsed(bowel_with("mortality_90d", kind="ratio", funnel_method="wilson"))


# Worked by hand: 30 events among 120 patients, 24 expected by the model, national rate 0.2.
PATIENTS, EXPECTED, RATE = np.array([120.0]), np.array([24.0]), 0.2


def test_a_proportion_is_out_of_its_patients_with_a_wilson_interval_around_the_national_rate():
    kind = KINDS["proportion"]
    expected = kind.expected(PATIENTS, EXPECTED, RATE)
    counts = kind.counts(PATIENTS, expected)
    assert expected.tolist() == [24.0] and counts is PATIENTS  # the denominator at the national rate
    assert np.array_equal(kind.interval([30], counts, 0.998), wilson_interval([30], PATIENTS, 0.998))
    assert kind.adjusted_rate(30 / counts, RATE).tolist() == [0.25]
    assert (kind.funnel, kind.target(RATE), kind.funnel_patients(PATIENTS, EXPECTED)) == (
        "proportion",
        0.2,
        (None, None),
    )
    assert kind.limits_within == (0.0, 1.0) and kind.public_expected(expected) is None
    assert kind.rounded_value(0.25, 30, (30, 120)) == 0.25 and kind.rounded_value(None, 0, (0, 0)) is None


def test_a_ratio_is_observed_over_expected_with_an_exact_poisson_interval_around_one():
    kind = KINDS["ratio"]
    expected = kind.expected(PATIENTS, EXPECTED, RATE)
    counts = kind.counts(PATIENTS, expected)
    assert expected is EXPECTED and counts is EXPECTED  # the sum of predicted risks
    assert np.array_equal(kind.interval([30], counts, 0.998), ratio_interval([30], EXPECTED, 0.998, method="exact"))
    assert kind.adjusted_rate(30 / counts, RATE).tolist() == [0.25]  # O/E 1.25 x 20%
    assert (kind.funnel, kind.target(RATE)) == ("ratio", 1.0)
    patients, variance = kind.funnel_patients(PATIENTS, EXPECTED)
    assert patients is PATIENTS and variance is EXPECTED
    assert kind.limits_within == (0.0, None) and kind.public_expected(expected) is EXPECTED
    assert kind.rounded_value(0.25, 30, (35, 120)) == pytest.approx(0.25 * 35 / 30)  # the same E, the rounded O
    assert kind.rounded_value(None, 0, (0, 0)) is None


def computed(indicator: IndicatorDefinition) -> IndicatorOutput:
    """The indicator over 4,000 patients of 8 trusts diagnosed from April 2023, 80% discussed at an MDT."""
    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "provider_code": rng.choice([f"T{i}" for i in range(8)], n),
            "diagnosis_date": pd.Timestamp("2023-04-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "mdt_discussed": pd.array(rng.random(n) < 0.8, dtype="boolean"),
        }
    )
    return compute_indicator(
        frame,
        indicator,
        extract_date=date(2025, 3, 31),
        provider_column="provider_code",
        alliance_of={f"T{i}": "E56000001" for i in range(8)},
    )


def test_a_declared_proportion_computes_what_the_implied_one_does():
    implied = computed(parsed(bowel_with("mdt_discussed"))["mdt_discussed"])
    declared = computed(parsed(bowel_with("mdt_discussed", kind="proportion"))["mdt_discussed"])
    pd.testing.assert_frame_equal(implied.results, declared.results)
    assert implied.funnels == declared.funnels and len(implied.funnels) > 0
