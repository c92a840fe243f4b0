"""The condition language as classes: each form parsed once, checked at start-up, evaluated, and naming
its columns (the rows each condition selects are worked out by hand in test_definitions.py)."""

from datetime import date

import pandas as pd
import pytest
import yaml

from audits.schema import DefinitionError, load_definition, parse_definition
from indicators.conditions import (
    COMPARISONS,
    CONDITION_KEYS,
    FORMS,
    All,
    AnyOf,
    Comparison,
    EventWithin,
    FollowedUp,
    Not,
    evaluate,
    parse_condition,
)
from indicators.definitions import parse_indicators
from tests.conftest import FIXTURES

DEFINITIONS = FIXTURES.parents[1] / "audits" / "definitions"
BOWEL = load_definition(DEFINITIONS / "bowel.yaml")
COLUMNS = {c.name: c for c in BOWEL.columns}
EXTRACT = date(2025, 3, 31)

FRAME = pd.DataFrame(
    {
        "stage": pd.Series(["1", "4", None], dtype="str"),
        "age": pd.Series([70, 17, None], dtype="Int32"),
    }
)


def test_each_key_names_one_class():
    assert {"all", "any", "not", "event_within", "followed_up"} < set(FORMS)
    assert list(FORMS)[-1] == "column"  # the other forms name themselves; a comparison goes with "column"
    assert list(COMPARISONS) == ["equals", "in", "not_in", "present", "at_least", "at_most"]
    assert CONDITION_KEYS == set(FORMS) | set(COMPARISONS)
    for key, form in FORMS.items():
        assert form.key == key
    for key, comparison in COMPARISONS.items():
        assert comparison.key == key and issubclass(comparison, Comparison)
        assert type(parse_condition({"column": "age", key: 1})) is comparison


def test_a_condition_is_parsed_into_its_classes_with_the_path_its_errors_name():
    condition = parse_condition(
        {
            "all": [
                {"any": [{"column": "stage", "in": ["1"]}, {"not": {"column": "age", "present": True}}]},
                {"event_within": {"event": "death_date", "start": "surgery_date", "days": 90}},
                {"followed_up": {"start": "surgery_date", "days": 90}},
            ]
        },
        path="denominator",
    )
    assert isinstance(condition, All) and condition.path == "denominator"
    either, within, followed = condition.parts
    assert isinstance(either, AnyOf) and either.path == "denominator.all[1]"
    assert isinstance(either.parts[1], Not) and either.parts[1].part.path == "denominator.all[1].any[2].not"
    assert isinstance(within, EventWithin) and within.arguments["days"] == 90
    assert isinstance(followed, FollowedUp) and followed.path == "denominator.all[3]"
    assert list(condition.columns()) == ["stage", "age", "death_date", "surgery_date", "surgery_date"]


def test_the_definition_keeps_the_conditions_it_parsed_and_checked():
    ninety = parse_indicators(BOWEL)[0]
    assert isinstance(ninety.conditions.numerator, EventWithin)
    assert isinstance(ninety.conditions.denominator, All)
    assert [part.path for part in ninety.conditions.denominator.parts] == [
        f"denominator.all[{n}]" for n in range(1, len(ninety.denominator["all"]) + 1)
    ]
    # the conditions as written stay for the API and the run's record
    assert ninety.numerator == {"event_within": {"event": "death_date", "start": "surgery_date", "days": 90}}
    assert ninety.conditions.columns() == {"death_date", "surgery_date", "major_resection", "age"}


def test_a_definition_built_in_code_parses_its_conditions():
    ninety = parse_indicators(BOWEL)[0]
    built = type(ninety)(
        code="x",
        title="x",
        description="x",
        numerator={"column": "age", "at_most": 17},
        denominator={"column": "stage", "present": True},
        exclusions=({"column": "stage", "equals": "4"},),
        direction="no_judgement",
        period_column="diagnosis_date",
        numerator_text="",
        denominator_text="",
    )
    assert [type(c) for c in (built.conditions.numerator, built.conditions.denominator)] == [
        COMPARISONS["at_most"],
        COMPARISONS["present"],
    ]
    assert built.conditions.exclusions[0].path == "exclusions[1]"
    assert evaluate(built.conditions.exclusions[0], FRAME, EXTRACT).tolist() == [False, True, False]


def test_an_empty_list_is_only_for_conditions_built_in_code():
    """``compute._ignoring`` builds ``{all: []}`` (everyone); a definition file may not."""
    assert evaluate({"all": []}, FRAME, EXTRACT).tolist() == [True, True, True]
    assert evaluate({"any": []}, FRAME, EXTRACT).tolist() == [False, False, False]
    raw = yaml.safe_load((DEFINITIONS / "bowel.yaml").read_text())
    raw["indicators"][5]["numerator"] = {"any": []}
    with pytest.raises(DefinitionError) as caught:
        parse_indicators(parse_definition(raw, origin="bowel.yaml"))
    assert (caught.value.file, caught.value.entry) == ("bowel.yaml", "indicator early_stage, numerator")
    assert caught.value.problem == "'any' takes a non-empty list of conditions"


def test_a_condition_built_in_code_is_refused_without_a_file():
    with pytest.raises(DefinitionError) as caught:
        parse_condition({"column": "age", "at_leest": 18})
    assert (caught.value.file, caught.value.entry, caught.value.key) == ("", "", "at_leest")
    assert str(caught.value) == "unknown key 'at_leest' (did you mean 'at_least'?)"


@pytest.mark.parametrize(
    "condition, message",
    [
        ({"followed_up": {"start": "surgery_date", "days": -1}}, "followed_up.days must be a whole number of days"),
        ({"followed_up": {"start": "age", "days": 30}}, "followed_up.start must name a date column"),
        ({"event_within": {"start": "surgery_date", "days": 30}}, "event_within.event must name a date column"),
        ({"column": "stage", "not_in": ["1", "9"]}, "['9'] are not codes of stage"),
        ({"column": "weight", "at_least": 1}, "condition column 'weight' is not in the extract"),
    ],
)
def test_check_refuses_what_the_extract_cannot_answer(condition, message):
    parsed = parse_condition({"all": [{"column": "age", "at_least": 18}, condition]}, path="numerator")
    with pytest.raises(DefinitionError, match="^numerator") as caught:
        parsed.check(COLUMNS, lambda problem, entry="", key=None: DefinitionError(problem, entry=entry, key=key))
    assert message in caught.value.problem


def test_followed_up_until_is_asked_of_followed_up_and_all_only():
    """The latest diagnosis date whose patients the condition requires to be followed up at the extract date:
    ``all`` takes the longest follow-up of its parts; ``any`` and ``not`` require none of every patient."""

    def until(spec: dict) -> date | None:
        return parse_condition(spec).followed_up_until("diagnosis_date", EXTRACT)

    two_years = {"followed_up": {"start": "diagnosis_date", "days": 730}}
    ninety_days = {"followed_up": {"start": "diagnosis_date", "days": 90}}
    from_surgery = {"followed_up": {"start": "surgery_date", "days": 365}}
    assert until(two_years) == date(2023, 4, 1)
    assert until(from_surgery) is None  # from another date
    assert until({"column": "stage", "in": ["1"]}) is None
    assert until({"all": [ninety_days, {"column": "stage", "in": ["1"]}, two_years, from_surgery]}) == date(2023, 4, 1)
    assert until({"all": [{"all": [ninety_days]}]}) == date(2024, 12, 31)
    assert until({"all": [{"column": "stage", "in": ["1"]}]}) is None
    assert until({"any": [two_years, ninety_days]}) is None
    assert until({"not": two_years}) is None
