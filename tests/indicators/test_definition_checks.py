"""Definitions are checked strictly at start-up (a Django system check) and by `check_definition PATH`.

Each broken copy of a shipped definition must be refused by both, naming the file, the entry and
the key: a misspelt key must never silently compute a different indicator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from audits.registry import reset_cache
from audits.schema import DefinitionError, load_definition
from indicators.definitions import parse_indicators
from tests.conftest import FIXTURES, run_command

ROOT = FIXTURES.parents[1]
DEFINITIONS = ROOT / "audits" / "definitions"
# Every file the site ships (a new audit's file is checked without being listed here), and the fixture registry.
SHIPPED = [*sorted(DEFINITIONS.glob("*.yaml")), FIXTURES / "definitions" / "mesothelioma.yaml"]

Change = Callable[[dict[str, Any]], None]


def indicator(raw: dict[str, Any], code: str) -> dict[str, Any]:
    return next(item for item in raw["indicators"] if item["code"] == code)


def column(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in raw["extract"]["columns"] if item["name"] == name)


def rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def broken_copy(folder: Path, change: Change, source: Path = DEFINITIONS / "bowel.yaml") -> Path:
    """A copy of a definition with one change, written to ``folder`` under the same file name."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    change(raw)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / source.name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def set_covariate_key(raw: dict[str, Any]) -> None:
    # The bowel case-mix list is shared (a YAML alias) by mortality_90d and readmission_30d;
    # give mortality_2y's own list the typo so the entry named is unambiguous.
    age = indicator(raw, "mortality_2y")["risk_model"]["covariates"][0]
    rename(age, "transform", "transfrom")


# (change to bowel.yaml, the entry named, the key named, the nearest allowed key or "allowed: ...")
MISSPELT: list[tuple[str, Change, str, str, str]] = [
    ("top level", lambda d: rename(d, "indicators", "indicator"), "top level", "indicator", "indicators"),
    ("extract", lambda d: rename(d["extract"], "rules", "rule"), "extract", "rule", "rules"),
    ("column", lambda d: rename(column(d, "asa_grade"), "max", "maximum"), "column asa_grade", "maximum", "max"),
    ("rule", lambda d: rename(d["extract"]["rules"][2], "when", "whn"), "rule 3", "whn", "when"),
    (
        "indicator",
        lambda d: indicator(d, "mortality_90d").update(exclusion=[{"column": "age", "at_most": 17}]),
        "indicator mortality_90d",
        "exclusion",
        "exclusions",
    ),
    (
        "condition operator",
        lambda d: indicator(d, "early_stage").update(numerator={"column": "stage", "inn": ["1", "2"]}),
        "indicator early_stage, numerator",
        "inn",
        "in",
    ),
    (
        "condition column key",
        lambda d: indicator(d, "mdt_discussed").update(numerator={"colum": "mdt_discussed", "equals": True}),
        "indicator mdt_discussed, numerator",
        "colum",
        "column",
    ),
    (
        "condition nested in all",
        lambda d: rename(indicator(d, "mortality_90d")["denominator"]["all"][1], "at_least", "at_leest"),
        "indicator mortality_90d, denominator.all[2]",
        "at_leest",
        "at_least",
    ),
    (
        "condition nested in any",
        lambda d: indicator(d, "early_stage").update(
            numerator={"any": [{"column": "stage", "equals": "1"}, {"column": "stage", "equls": "2"}]}
        ),
        "indicator early_stage, numerator.any[2]",
        "equls",
        "equals",
    ),
    (
        "condition nested in not",
        lambda d: indicator(d, "major_resection").update(exclusions=[{"not": {"column": "age", "presnet": True}}]),
        "indicator major_resection, exclusions[1].not",
        "presnet",
        "present",
    ),
    (
        "combinator misspelt",
        lambda d: rename(indicator(d, "mortality_90d")["denominator"], "all", "alll"),
        "indicator mortality_90d, denominator",
        "alll",
        "all",
    ),
    (
        "event_within",
        lambda d: indicator(d, "mortality_90d")["numerator"]["event_within"].update(unit="weeks"),
        "indicator mortality_90d, numerator.event_within",
        "unit",
        "allowed: days, event, start",
    ),
    (
        "followed_up",
        lambda d: rename(indicator(d, "mortality_2y")["denominator"]["followed_up"], "start", "strat"),
        "indicator mortality_2y, denominator.followed_up",
        "strat",
        "start",
    ),
    (
        "risk model",
        lambda d: rename(indicator(d, "mortality_90d")["risk_model"], "interactions", "interaction"),
        "indicator mortality_90d, risk_model",
        "interaction",
        "interactions",
    ),
    ("covariate", set_covariate_key, "indicator mortality_2y, risk_model covariate age", "transfrom", "transform"),
    (
        "period",
        lambda d: rename(indicator(d, "mortality_90d")["period"], "column", "colum"),
        "indicator mortality_90d, period",
        "colum",
        "column",
    ),
    (
        "standard",
        lambda d: rename(indicator(d, "stage_completeness")["standard"], "label", "lable"),
        "indicator stage_completeness, standard",
        "lable",
        "label",
    ),
    (
        "review",
        lambda d: indicator(d, "early_stage").update(review={"source": "https://example.org", "checked_bye": "me"}),
        "indicator early_stage, review",
        "checked_bye",
        "checked_by",
    ),
    (
        "review status",
        lambda d: indicator(d, "early_stage").update(review={"stauts": "unverified", "note": "Window unchecked."}),
        "indicator early_stage, review",
        "stauts",
        "status",
    ),
    (
        "review note",
        lambda d: indicator(d, "early_stage").update(review={"status": "unverified", "notes": "Window unchecked."}),
        "indicator early_stage, review",
        "notes",
        "note",
    ),
    (
        "requires",
        lambda d: rename(indicator(d, "readmission_30d")["requires"], "minimum_completeness", "minimum_complete"),
        "indicator readmission_30d, requires",
        "minimum_complete",
        "minimum_completeness",
    ),
    (
        "minimum_coverage misspelt",
        lambda d: indicator(d, "mortality_90d").update(minimum_coverag=0.5),
        "indicator mortality_90d",
        "minimum_coverag",
        "minimum_coverage",
    ),
    (
        "unknown_codes misspelt",
        lambda d: rename(column(d, "stage"), "unknown_codes", "unknown_code"),
        "column stage",
        "unknown_code",
        "unknown_codes",
    ),
    (
        "plain words misspelt",
        lambda d: rename(indicator(d, "mdt_discussed"), "plain", "plane"),
        "indicator mdt_discussed",
        "plane",
        "plain",
    ),
    ("top-level plain words misspelt", lambda d: rename(d, "plain", "plian"), "top level", "plian", "plain"),
    (
        "inequalities dimension misspelt",
        lambda d: rename(d["inequalities"], "deprivation", "deprivaton"),
        "inequalities",
        "deprivaton",
        "deprivation",
    ),
    (
        "inequalities dimension key misspelt",
        lambda d: rename(d["inequalities"]["age"], "bands", "band"),
        "inequalities, age",
        "band",
        "bands",
    ),
    (
        "reporting misspelt",
        lambda d: d.update(reporting={"pool_year": 3}),
        "reporting",
        "pool_year",
        "pool_years",
    ),
    (
        "an indicator's reporting misspelt",
        lambda d: indicator(d, "early_stage").update(reporting={"comparison_levl": "alliance"}),
        "indicator early_stage, reporting",
        "comparison_levl",
        "comparison_level",
    ),
    (
        "top-level reporting misspelt",
        lambda d: d.update(reportng={"pool_years": 3}),
        "top level",
        "reportng",
        "reporting",
    ),
    (
        "applies_when misspelt",
        lambda d: rename(column(d, "asa_grade"), "applies_when", "applies_if"),
        "column asa_grade",
        "applies_if",
        "applies_when",
    ),
    ("demo section key misspelt", lambda d: rename(d["demo"], "rows", "row"), "demo", "row", "rows"),
    (
        "demo column model key misspelt",
        lambda d: rename(d["demo"]["columns"]["major_resection"], "rate", "rates"),
        "demo, column major_resection",
        "rates",
        "rate",
    ),
    (
        "demo event key misspelt",
        lambda d: rename(d["demo"]["columns"]["death_date"]["events"][0], "days", "dayz"),
        "demo, column death_date, event 1",
        "dayz",
        "days",
    ),
    (
        "demo planted trusts key misspelt",
        lambda d: rename(d["demo"]["columns"]["death_date"]["events"][0]["planted"], "worse", "worst"),
        "demo, column death_date, event 1, planted",
        "worst",
        "worse",
    ),
]


def expected_message(entry: str, key: str, suggestion: str) -> str:
    """The check's message (the file is its ``obj``): entry, then the key and the nearest allowed key."""
    if suggestion.startswith("allowed: "):
        return f"{entry}: unknown key '{key}' ({suggestion})"
    return f"{entry}: unknown key '{key}' (did you mean '{suggestion}'?)"


@pytest.fixture
def definition_dirs(settings, tmp_path: Path):
    """Point AUDIT_DEFINITION_DIRS at a fresh folder (only) for the test."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    settings.AUDIT_DEFINITION_DIRS = [folder]
    reset_cache()
    yield folder
    reset_cache()


def definition_errors() -> list[Any]:
    return [message for message in run_checks() if (message.id or "").startswith("definitions.")]


@pytest.mark.parametrize(
    "change, entry, key, suggestion", [case[1:] for case in MISSPELT], ids=[case[0] for case in MISSPELT]
)
def test_a_misspelt_key_is_refused_when_loaded(tmp_path, change, entry, key, suggestion):
    """Wherever a definition is read (the registry too), the error names the file, the entry and the key."""
    path = broken_copy(tmp_path, change)
    with pytest.raises(DefinitionError) as caught:
        parse_indicators(load_definition(path))
    assert str(caught.value) == f"bowel.yaml: {expected_message(entry, key, suggestion)}"
    assert (caught.value.file, caught.value.entry, caught.value.key) == ("bowel.yaml", entry, key)


@pytest.mark.parametrize(
    "change, entry, key, suggestion", [case[1:] for case in MISSPELT], ids=[case[0] for case in MISSPELT]
)
def test_a_misspelt_key_is_refused_at_start_up(definition_dirs, change, entry, key, suggestion):
    path = broken_copy(definition_dirs, change)
    errors = definition_errors()
    assert len(errors) == 1, errors
    error = errors[0]
    assert isinstance(error, Error) and error.id == "definitions.E001"
    assert error.obj == str(path)
    assert error.msg == expected_message(entry, key, suggestion)
    assert str(error).startswith(f"{path}: (definitions.E001) {entry}: unknown key '{key}'")


@pytest.mark.parametrize(
    "change, entry, key, suggestion", [case[1:] for case in MISSPELT], ids=[case[0] for case in MISSPELT]
)
def test_check_definition_refuses_a_misspelt_key(tmp_path, change, entry, key, suggestion):
    path = broken_copy(tmp_path, change)
    code, out, err = run_command("check_definition", str(path))
    assert code == 1
    assert f"{path}: {expected_message(entry, key, suggestion)}" in err.splitlines(), err

    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    assert json.loads(out) == [
        {
            "id": "definitions.E001",
            "file": str(path),
            "entry": entry,
            "key": key,
            "message": expected_message(entry, key, suggestion),
        }
    ]


def test_without_a_close_match_the_message_lists_the_allowed_keys(tmp_path):
    path = broken_copy(tmp_path, lambda d: indicator(d, "mdt_discussed").update(colour="blue"))
    code, _, err = run_command("check_definition", str(path))
    assert code == 1
    assert f"{path}: indicator mdt_discussed: unknown key 'colour' (allowed: code, " in err


# (change, the entry named, words of the message)
WRONG_REFERENCE: list[tuple[str, Change, str, str]] = [
    (
        "condition on a column the extract lacks",
        lambda d: indicator(d, "early_stage").update(numerator={"column": "tumour_stage", "in": ["1", "2"]}),
        "indicator early_stage, numerator",
        "condition column 'tumour_stage' is not in the extract",
    ),
    (
        "nested condition on a column the extract lacks",
        lambda d: indicator(d, "mortality_90d")["denominator"]["all"][0].update(column="resected"),
        "indicator mortality_90d, denominator.all[1]",
        "condition column 'resected' is not in the extract",
    ),
    (
        "covariate that is not a column",
        lambda d: indicator(d, "mortality_2y")["risk_model"]["covariates"][1].update(column="gender"),
        "indicator mortality_2y, risk_model",
        "covariate 'gender' is not in the extract",
    ),
    (
        "interaction of a covariate the model lacks",
        lambda d: indicator(d, "mortality_90d")["risk_model"].update(interactions=[["age", "imd_quintile"]]),
        "indicator mortality_90d, risk_model",
        "interaction ['age', 'imd_quintile'] must pair two of its covariates",
    ),
    (
        "covariate transform a model cannot fit",
        lambda d: indicator(d, "mortality_2y")["risk_model"]["covariates"][1].update(transform="square"),
        "indicator mortality_2y, risk_model covariate sex",
        "only numeric covariates take transform 'square'",
    ),
    (
        "covariate missing-value handling unknown",
        lambda d: indicator(d, "mortality_2y")["risk_model"]["covariates"][3].update(missing="model"),
        "indicator mortality_2y, risk_model covariate cancer_site",
        "missing must be one of impute, exclude",
    ),
    (
        "covariate missing-value handling withdrawn (a missing category absorbs a trust's own results)",
        lambda d: indicator(d, "mortality_2y")["risk_model"]["covariates"][3].update(missing="category"),
        "indicator mortality_2y, risk_model covariate cancer_site",
        "missing: category is withdrawn",
    ),
    (
        "completeness threshold outside 0 to 1",
        lambda d: indicator(d, "mortality_2y")["risk_model"].update(minimum_completeness=80),
        "indicator mortality_2y, risk_model",
        "minimum_completeness must be a share between 0 and 1",
    ),
    (
        "covariate listed twice",
        lambda d: indicator(d, "mortality_2y")["risk_model"]["covariates"].append({"column": "sex", "type": "boolean"}),
        "indicator mortality_2y, risk_model covariate sex",
        "listed twice",
    ),
    (
        "rule key of another rule type",
        lambda d: d["extract"]["rules"][0].update(reference="diagnosis_date"),
        "rule 1",
        "'reference' does not apply to a required_when rule",
    ),
    (
        "condition with two forms",
        lambda d: indicator(d, "mortality_90d")["denominator"].update(column="age", at_least=18),
        "indicator mortality_90d, denominator",
        "'column' does not go with 'all'",
    ),
    (
        "required field that is not a column",
        lambda d: indicator(d, "readmission_30d")["requires"].update(column="readmitted"),
        "indicator readmission_30d, requires",
        "requires column 'readmitted' is not in the extract",
    ),
    (
        "required completeness that is not a share",
        lambda d: indicator(d, "readmission_30d")["requires"].update(minimum_completeness=80),
        "indicator readmission_30d, requires",
        "minimum_completeness must be a share from 0 to 1",
    ),
    (
        "minimum coverage that is not a share",
        lambda d: indicator(d, "mortality_90d").update(minimum_coverage=0),
        "indicator mortality_90d",
        "minimum_coverage must be a share of the period above 0 and at most 1",
    ),
    (
        "unknown code that is not a code of the column",
        lambda d: column(d, "stage").update(unknown_codes=["X"]),
        "column stage",
        "unknown_codes must be a list of the column's own codes",
    ),
    (
        "plain words that are not text",
        lambda d: indicator(d, "mdt_discussed").update(plain=["talked over", "at a meeting"]),
        "indicator mdt_discussed",
        "plain must be text",
    ),
    (
        "top-level plain words that are not text",
        lambda d: d.update(plain={"bowel": "cancer"}),
        "top level",
        "'plain' must be text",
    ),
    (
        "applies_when on a column the extract lacks",
        lambda d: column(d, "asa_grade").update(applies_when={"resected": True}),
        "column asa_grade, applies_when",
        "when-column 'resected' is not declared",
    ),
    (
        "review status that is not a status",
        lambda d: indicator(d, "early_stage").update(review={"status": "checked", "note": "Read the supplement."}),
        "indicator early_stage, review",
        "status must be one of verified, unverified",
    ),
    (
        "unverified review without a note",
        lambda d: indicator(d, "early_stage").update(review={"status": "unverified", "source": "https://example.org"}),
        "indicator early_stage, review",
        "an unverified definition needs a note saying what is unchecked",
    ),
    (
        "pooled years that are not a whole number of at least 2",
        lambda d: d.update(reporting={"pool_years": 1}),
        "reporting",
        "pool_years must be a whole number of audit years from 2 to 10",
    ),
    (
        "an indicator's pooled years that are not a number",
        lambda d: indicator(d, "early_stage").update(reporting={"pool_years": "three"}),
        "indicator early_stage, reporting",
        "pool_years must be a whole number of audit years from 2 to 10",
    ),
    (
        "a comparison level that is not a level",
        lambda d: d.update(reporting={"comparison_level": "region"}),
        "reporting",
        "comparison_level must be one of provider, alliance",
    ),
    (
        "reporting that is not a mapping",
        lambda d: indicator(d, "early_stage").update(reporting=3),
        "indicator early_stage, reporting",
        "reporting must be a mapping such as {pool_years: 3, comparison_level: alliance}",
    ),
    (
        "applies_when comparing a boolean with text",
        lambda d: column(d, "asa_grade").update(applies_when={"major_resection": "yes"}),
        "column asa_grade, applies_when",
        "major_resection is boolean, so compare it with true or false",
    ),
]


@pytest.mark.parametrize(
    "change, entry, words", [case[1:] for case in WRONG_REFERENCE], ids=[case[0] for case in WRONG_REFERENCE]
)
def test_a_wrong_reference_is_refused_naming_the_entry(definition_dirs, change, entry, words):
    path = broken_copy(definition_dirs, change)
    errors = definition_errors()
    assert len(errors) == 1 and errors[0].obj == str(path), errors
    assert errors[0].msg.startswith(f"{entry}: "), errors[0].msg
    assert words in errors[0].msg

    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    [problem] = json.loads(out)
    assert problem["entry"] == entry and problem["message"] == errors[0].msg


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_each_shipped_definition_passes(path):
    code, out, err = run_command("check_definition", str(path))
    assert (code, err) == (0, "")
    assert out.startswith(f"{path}: no problems")
    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 0 and json.loads(out) == []


def test_every_natcan_audit_ships_a_definition_file():
    """The loop above covers every shipped file: bowel, lung and the eight other NATCAN audits (issue 14)."""
    audits = {yaml.safe_load(path.read_text(encoding="utf-8"))["code"] for path in DEFINITIONS.glob("*.yaml")}
    natcan = {"bowel", "lung", "og", "prostate", "breast_primary", "breast_metastatic", "kidney", "pancreatic"}
    assert natcan | {"ovarian", "nhl"} <= audits


def test_the_shipped_definitions_and_the_fixture_folder_pass_the_start_up_check(settings):
    settings.AUDIT_DEFINITION_DIRS = [DEFINITIONS, FIXTURES / "definitions"]
    assert definition_errors() == []


def test_check_definition_takes_several_files_and_folders(tmp_path):
    def draft(d: dict[str, Any]) -> None:
        d["code"] = "bowel_draft"
        rename(indicator(d, "mortality_90d"), "title", "titel")

    broken = broken_copy(tmp_path / "drafts", draft)
    code, out, err = run_command("check_definition", str(DEFINITIONS), str(broken))
    assert code == 1
    assert f"{DEFINITIONS / 'bowel.yaml'}: no problems" in out and f"{DEFINITIONS / 'lung.yaml'}: no problems" in out
    assert f"{broken}: indicator mortality_90d: unknown key 'titel' (did you mean 'title'?)" in err

    code, out, _ = run_command("check_definition", str(DEFINITIONS), str(broken), json=True)
    assert code == 1
    assert [(p["file"], p["entry"], p["key"]) for p in json.loads(out)] == [
        (str(broken), "indicator mortality_90d", "titel")
    ]


def test_the_same_audit_code_in_two_files_is_refused(definition_dirs):
    broken_copy(definition_dirs, lambda d: None)
    other = definition_dirs / "other.yaml"
    other.write_text((DEFINITIONS / "bowel.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    errors = definition_errors()
    assert [(e.id, e.obj, e.msg) for e in errors] == [
        ("definitions.E003", str(other), "audit code bowel is already defined in bowel.yaml")
    ]
    code, out, _ = run_command("check_definition", str(definition_dirs), json=True)
    assert code == 1
    assert json.loads(out) == [
        {
            "id": "definitions.E003",
            "file": str(other),
            "entry": None,
            "key": "code",
            "message": "audit code bowel is already defined in bowel.yaml",
        }
    ]


def test_x_keys_at_the_top_level_hold_yaml_anchors(tmp_path):
    path = broken_copy(tmp_path, lambda d: d.update({"x-notes": {"anything": [1, 2]}}))
    assert run_command("check_definition", str(path))[0] == 0


def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "draft.yaml"
    path.write_text("code: [unclosed\n", encoding="utf-8")
    code, out, _ = run_command("check_definition", str(path), json=True)
    assert code == 1
    [problem] = json.loads(out)
    assert (problem["id"], problem["file"], problem["entry"]) == ("definitions.E002", str(path), None)
    assert problem["message"].startswith("cannot be read as YAML")


def test_a_folder_with_no_definitions_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no definition files"):
        call_command("check_definition", str(tmp_path))


def test_manage_py_check_refuses_a_misspelt_key(definition_dirs):
    broken_copy(definition_dirs, lambda d: indicator(d, "mortality_90d").update(exclusion=[]))
    with pytest.raises(SystemCheckError, match=r"indicator mortality_90d: unknown key 'exclusion'"):
        call_command("check")


def test_a_misspelt_key_stops_a_command_at_start_up(tmp_path):
    """In a real process: the extra folder comes from the environment, and `check` exits non-zero."""
    folder = tmp_path / "extra"

    def change(d: dict[str, Any]) -> None:
        d["code"] = "bowel_copy"
        indicator(d, "mortality_90d").update(exclusion=[])

    path = broken_copy(folder, change)
    env = {**os.environ, "AUDIT_DEFINITION_DIRS": str(folder)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"{path}: (definitions.E001) indicator mortality_90d: unknown key 'exclusion' (did you mean 'exclusions'?)"
        in result.stderr
    )


def test_the_definition_checks_import_no_numerical_library():
    """The system check runs before every command, so it must not pull in numpy or pandas."""
    code = (
        "import sys; import audits.schema, audits.checks, indicators.definitions, indicators.checks, "
        "indicators.management.commands.check_definition; "
        "heavy = sorted({'numpy', 'pandas', 'scipy', 'statsmodels', 'plotly'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(
    "change, entry, key, words",
    [
        (lambda d: d["inequalities"]["sex"].update(column="gender"), "inequalities, sex", "column", "must name one"),
        (lambda d: d["inequalities"]["age"].update(column="sex"), "inequalities, age", "column", "integer column"),
        (lambda d: d["inequalities"]["age"].update(bands=[60, 50]), "inequalities, age", "bands", "increasing"),
        (lambda d: d["inequalities"]["deprivation"].update(groups=[1, 2]), "inequalities, deprivation", "groups", "5"),
        (
            lambda d: d["inequalities"]["sex"].update(labels={"X": "Other"}),
            "inequalities, sex",
            "labels",
            "not among its groups: X",
        ),
    ],
    ids=["unknown column", "age not an integer", "bands not increasing", "too few ordered groups", "label of no group"],
)
def test_a_wrong_inequality_breakdown_is_refused(tmp_path, change, entry, key, words):
    path = broken_copy(tmp_path, change)
    with pytest.raises(DefinitionError) as caught:
        parse_indicators(load_definition(path))
    assert (caught.value.entry, caught.value.key) == (entry, key) and words in str(caught.value)


def test_the_shipped_breakdowns_name_their_columns_and_groups():
    from indicators.inequalities import parse_inequalities

    dimensions = {d.name: d for d in parse_inequalities(load_definition(DEFINITIONS / "bowel.yaml"))}
    assert list(dimensions) == ["deprivation", "age", "sex"]
    assert dimensions["deprivation"].column == "imd_quintile"
    assert dimensions["deprivation"].labels[0] == "1 (most deprived)"
    assert dimensions["age"].labels == ("Under 50", "50-59", "60-69", "70-79", "80 and over")
    assert dimensions["sex"].groups == (("M", "Male"), ("F", "Female"))
