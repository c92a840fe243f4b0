"""The outlier policy of a definition file is checked strictly, like the rest of the file: at start-up and by
``check_definition``, naming the file, the entry and the key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audits.schema import DefinitionError, load_definition
from indicators.outlier_policy import COUNTRIES, OWNERS, Policy, parse_policy, policy_from
from outliers.workdays import SUBDIVISIONS
from tests.conftest import run_command
from tests.indicators.test_definition_checks import (  # noqa: F401 - definition_dirs is a fixture
    DEFINITIONS,
    broken_copy,
    definition_dirs,
    definition_errors,
)


def policy(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["outlier_policy"]


def misspelt_key(raw: dict[str, Any]) -> None:
    policy(raw)["directons"] = policy(raw).pop("directions")


def unknown_owner(raw: dict[str, Any]) -> None:
    policy(raw)["stages"] = {"trust_review": {"owner": "chief_exec"}}


def unknown_level(raw: dict[str, Any]) -> None:
    policy(raw)["levels"] = ["alarm", "warning"]


def misspelt_stage_key(raw: dict[str, Any]) -> None:
    policy(raw)["stages"] = {"trust_review": {"working_dayz": 20}}


def test_the_shipped_policies():
    bowel = parse_policy(load_definition(DEFINITIONS / "bowel.yaml"))
    assert (bowel.base, bowel.track, bowel.levels, bowel.directions) == (
        "hqip_formal",
        "formal",
        ("alarm", "alert"),
        ("worse", "better"),
    )
    alarm = bowel.track_for("alarm", "worse")
    assert [s.name for s in alarm.stages] == [
        "data_check",
        "trust_review",
        "decision",
        "confirmation",
        "acknowledgement",
        "publication",
    ]
    assert [s.owner for s in alarm.stages] == [
        "audit_team",
        "trust_lead",
        "audit_team",
        "audit_team",
        "chief_executive",
        "audit_team",
    ]
    assert alarm.stage("decision").target("no_case_to_answer") == "closed:no_case_to_answer"
    assert set(alarm.stage("confirmation").notify) == {"trust_lead", "chief_executive", "medical_director", "regulator"}
    assert [s.name for s in bowel.track_for("alert", "worse").stages] == ["inform", "local_review"]
    assert [s.name for s in bowel.track_for("alarm", "better").stages] == ["invite", "share_practice"]
    lung = parse_policy(load_definition(DEFINITIONS / "lung.yaml"))
    assert lung.track_for("alert", "worse") is None  # lung opens cases for alarms only
    assert Policy.from_json(json.loads(json.dumps(bowel.as_json()))) == bowel


def test_defaults_and_the_supportive_base():
    default = policy_from({})
    assert (default.base, default.levels, default.directions, default.reporting_period, default.country) == (
        "hqip_formal",
        ("alarm",),
        ("worse", "better"),
        "latest",
        "England",
    )
    supportive = policy_from({"track": "supportive", "levels": ["alarm", "alert"]})
    assert supportive.base == "supportive_contact"
    stages = supportive.track_for("alert", "better").stages
    assert [(s.name, s.owner) for s in stages] == [("contact", "audit_team"), ("response", "trust_lead")]
    assert not {"chief_executive", "regulator"} & {r for s in stages for r in s.notify}
    override = policy_from({"stages": {"trust_review": {"working_days": 20}}})
    assert override.track_for("alarm", "worse").stage("trust_review").working_days == 20


def test_the_words_have_their_owners():
    assert set(COUNTRIES) == set(SUBDIVISIONS)  # every country a policy names has a bank-holiday calendar
    assert "chief_executive" in OWNERS


BROKEN = [
    (
        "misspelt key",
        misspelt_key,
        "outlier_policy",
        "directons",
        "unknown key 'directons' (did you mean 'directions'?)",
    ),
    (
        "misspelt stage key",
        misspelt_stage_key,
        "outlier_policy, stages, trust_review",
        "working_dayz",
        "unknown key 'working_dayz' (did you mean 'working_days'?)",
    ),
    (
        "unknown stage owner",
        unknown_owner,
        "outlier_policy, track alarm_worse, stage trust_review, owner",
        None,
        "unknown owner 'chief_exec'",
    ),
    ("unknown level", unknown_level, "outlier_policy, levels", None, "unknown level 'warning' (allowed: alarm, alert)"),
]


@pytest.mark.parametrize("change, entry, key, words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_bad_policy_is_refused_when_parsed(tmp_path, change, entry, key, words):
    path = broken_copy(tmp_path, change)
    with pytest.raises(DefinitionError) as caught:
        parse_policy(load_definition(path))
    assert (caught.value.file, caught.value.entry, caught.value.key) == ("bowel.yaml", entry, key)
    assert str(caught.value).startswith(f"bowel.yaml: {entry}: {words}")


@pytest.mark.parametrize("change, entry, key, words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_bad_policy_is_refused_at_start_up(definition_dirs, change, entry, key, words):  # noqa: F811
    path = broken_copy(definition_dirs, change)
    errors = definition_errors()
    assert len(errors) == 1, errors
    assert errors[0].obj == str(path)
    assert errors[0].id == ("definitions.E001" if key else "definitions.E002")
    assert errors[0].msg.startswith(f"{entry}: {words}")


@pytest.mark.parametrize("change, entry, key, words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_check_definition_refuses_a_bad_policy(tmp_path, change, entry, key, words):
    path = broken_copy(tmp_path, change)
    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    [problem] = json.loads(out)
    assert (problem["file"], problem["entry"], problem["key"]) == (str(path), entry, key)
    assert problem["message"].startswith(f"{entry}: {words}")


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"extends": "hqip_informal"}, "extends must name a shipped base policy: hqip_formal, supportive_contact"),
        ({"track": "supportive", "extends": "hqip_formal"}, "track supportive does not match the base hqip_formal"),
        ({"country": "Scotland"}, "country must be one of England, Wales"),
        ({"stages": {"triage": {"working_days": 3}}}, "the base has no stage 'triage'"),
        ({"stages": {"decision": {"outcomes": {"confirmed": "nowhere"}}}}, "outcome confirmed leads to 'nowhere'"),
        ({"stages": {"decision": {"notify": ["press"]}}}, "unknown recipient 'press'"),
        ({"stages": {"decision": {"on_overdue": [{"action": "shout"}]}}}, "action must be one of reminder, escalate"),
        ("formal", "must be a mapping"),
    ],
)
def test_other_mistakes_are_refused(raw, words):
    with pytest.raises(DefinitionError, match="x.yaml: outlier_policy") as caught:
        policy_from(raw, origin="x.yaml")
    assert words in str(caught.value)
