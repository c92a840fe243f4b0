"""A registry goes from its definition file to published pages with the commands of docs/adding-an-audit.md
alone, in their order: check_definition, generate_demo_extract, import_extract, compute_indicators,
build_dashboards. No Python of the registry's own: the fixture folder holds one YAML file."""

from __future__ import annotations

import json
import shutil
from html import unescape

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


SHIPPED = sorted(path.stem for path in (FIXTURES.parents[1] / "audits" / "definitions").glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("audit", SHIPPED)
def test_every_shipped_audit_generates_imports_computes_and_renders_from_its_file(
    orgs, settings, tmp_path, client, audit
):
    """Each shipped audit's demo data, from its file alone, pass the import, compute, and give figures: no
    indicator without an England value (a risk model has enough events to be fitted), and trusts with published
    values on most indicators. At the volume its demo section declares (at most 40,000 patients, for time)."""
    from audits.registry import get_definition
    from indicators.models import IndicatorResult
    from indicators.registry import indicators_for

    settings.AFTER_RELEASE_TASKS = []  # computed once, by the compute_indicators step
    rows = min(get_definition(audit).demo.rows, 40_000)
    extract = tmp_path / f"{audit}.csv"
    status, _, err = run_command("generate_demo_extract", str(extract), audit=audit, rows=rows, seed=3)
    assert status == 0, err
    status, out, _ = run_command("import_extract", str(extract), audit=audit, extract_date="2026-03-31", json=True)
    assert status == 0, json.loads(out)["errors"][:3]
    status, out, err = run_command("compute_indicators", audit=audit, in_process=True)
    assert status == 0, err

    indicators = indicators_for(audit)
    with_trusts = 0
    for indicator in indicators:
        results = IndicatorResult.objects.filter(audit_code=audit, indicator=indicator.code)
        assert results.filter(level="national", value__isnull=False).exists(), indicator.code
        with_trusts += results.filter(level="provider", value__isnull=False, suppressed=False).exists()
        page = client.get(reverse("indicator", args=[audit, indicator.code]))
        assert page.status_code == 200 and indicator.title in unescape(page.content.decode())
    assert with_trusts >= len(indicators) / 2
    page = client.get(reverse("audit", args=[audit])).content.decode()
    assert "No release yet" not in page
