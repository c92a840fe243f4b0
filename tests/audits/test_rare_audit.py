"""Adding an audit needs only a definition file: a rare-cancer registry from a fixture folder."""

import json

import pytest

from audits.models import Release
from audits.registry import all_definitions, reset_cache
from audits.selectors import release_frame
from tests.conftest import FIXTURES, run_command


@pytest.fixture
def mesothelioma(settings):
    settings.AUDIT_DEFINITION_DIRS = [*settings.AUDIT_DEFINITION_DIRS, FIXTURES / "definitions"]
    reset_cache()
    yield all_definitions()["mesothelioma"]
    reset_cache()


@pytest.mark.django_db
def test_a_registry_defined_only_in_yaml_ingests_an_extract(orgs, mesothelioma):
    code, out, _ = run_command(
        "import_extract",
        str(FIXTURES / "mesothelioma" / "extract.csv"),
        audit="mesothelioma",
        extract_date="2024-12-31",
        json=True,
    )
    result = json.loads(out)
    assert code == 0, result
    release = Release.objects.get(pk=result["release"])
    assert release.audit.name == "National Mesothelioma Registry (test fixture)"
    frame = release_frame(release)
    assert frame["subtype"].tolist() == ["epithelioid", "biphasic", "nos"]
    assert frame["trust"].tolist() == ["RTH", "RM3", "REN"]
    assert frame["chemotherapy"].tolist() == [True, False, True]


@pytest.mark.django_db
def test_the_registry_rules_come_from_its_file(orgs, mesothelioma):
    code, out, _ = run_command(
        "import_extract",
        str(FIXTURES / "mesothelioma" / "bad.csv"),
        audit="mesothelioma",
        extract_date="2024-12-31",
        json=True,
    )
    assert code == 1
    assert [(e["line"], e["column"], e["message"]) for e in json.loads(out)["errors"]] == [
        (3, "subtype", "'spindle' is not an allowed subtype (allowed: epithelioid, sarcomatoid, biphasic, nos)"),
        (4, "chemotherapy_date", "chemotherapy_date must be blank unless chemotherapy is true"),
    ]
