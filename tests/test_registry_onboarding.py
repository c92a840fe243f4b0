"""A registry goes from its definition file to published pages with the commands of docs/adding-an-audit.md
alone, in their order: check_definition, generate_demo_extract, import_extract, compute_indicators,
build_dashboards. No Python of the registry's own: the fixture folder holds one YAML file."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from django.urls import reverse

from audits.registry import reset_cache
from tests.conftest import FIXTURES, run_command

REGISTRY = FIXTURES / "definitions" / "sarcoma.yaml"
TEMPLATE = FIXTURES.parents[1] / "docs" / "audit-template.yaml"


@pytest.fixture
def registry_folder(settings, tmp_path):
    """The registry's folder, added to AUDIT_DEFINITION_DIRS as a deployment would (README)."""
    folder = tmp_path / "registries"
    folder.mkdir()
    shutil.copy(REGISTRY, folder / REGISTRY.name)
    settings.AUDIT_DEFINITION_DIRS = [*settings.AUDIT_DEFINITION_DIRS, folder]
    settings.AFTER_RELEASE_TASKS = []  # computed by the compute_indicators step, as the guide's steps do
    reset_cache()
    yield folder
    reset_cache()


@pytest.mark.django_db(transaction=True)
def test_a_registry_goes_from_its_file_to_rendered_pages_with_the_commands_alone(
    orgs, registry_folder, tmp_path, client
):
    raw = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    code = raw["code"]
    path = registry_folder / REGISTRY.name

    status, out, err = run_command("check_definition", str(path))
    assert status == 0, err
    assert f"{path}: no problems (audit {code}" in out

    extract = tmp_path / f"{code}.csv"
    status, out, _ = run_command("generate_demo_extract", str(extract), audit=code, seed=7, extract_date="2026-03-31")
    assert status == 0 and f"Wrote {raw['demo']['rows']} {code} rows" in out

    status, out, _ = run_command("import_extract", str(extract), audit=code, extract_date="2026-03-31", json=True)
    result = json.loads(out)
    assert status == 0, result.get("errors", [])[:3]
    assert result["rows"] == raw["demo"]["rows"]

    status, out, _ = run_command("compute_indicators", audit=code, in_process=True)
    assert status == 0 and "done; its results are now current" in out

    status, out, _ = run_command("build_dashboards")
    assert status == 0 and f"{code}: run" in out

    home = client.get(reverse("home")).content.decode()
    assert raw["name"] in home
    audit_page = client.get(reverse("audit", args=[code]))
    assert audit_page.status_code == 200
    page = audit_page.content.decode()
    assert "No release yet" not in page
    for indicator in raw["indicators"]:
        assert indicator["title"] in page
        shown = client.get(reverse("indicator", args=[code, indicator["code"]]))
        assert shown.status_code == 200 and indicator["title"] in shown.content.decode()
        breakdown = client.get(reverse("inequalities", args=[code, indicator["code"]]))
        assert breakdown.status_code == 200 and "By deprivation" in breakdown.content.decode()
    # The busiest trust's page shows the registry among its audits.
    status, out, _ = run_command(
        "indicator_results", audit=code, indicator="specialist_mdt", level="provider", json=True
    )
    rows = json.loads(out)
    busiest = max(rows, key=lambda row: row["denominator"])["organisation"]
    trust_page = client.get(reverse("trust", args=[busiest]))
    assert trust_page.status_code == 200 and raw["short_name"] in trust_page.content.decode()


def test_the_template_definition_passes_check_definition():
    """docs/adding-an-audit.md starts from this file: it must pass the checks as it stands."""
    status, out, err = run_command("check_definition", str(TEMPLATE))
    assert status == 0, err
    assert "no problems" in out
