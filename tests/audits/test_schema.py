"""Definition files are checked when loaded, with messages that say where to fix them."""

import pytest
import yaml

from audits.schema import DefinitionError, parse_definition
from tests.conftest import FIXTURES

BASE = yaml.safe_load((FIXTURES / "definitions" / "mesothelioma.yaml").read_text())


def broken(change):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    change(raw)
    return raw


def test_the_shipped_definitions_load():
    from audits.schema import load_definition

    root = FIXTURES.parents[1] / "audits" / "definitions"
    bowel, lung = load_definition(root / "bowel.yaml"), load_definition(root / "lung.yaml")
    assert len(bowel.columns) == 17 and bowel.patient_id == "patient_id" and bowel.provider == "provider_code"
    assert {c.name for c in lung.columns} >= {
        "histology",
        "stage",
        "performance_status",
        "treatment_intent",
        "pathological_confirmation",
        "cns_seen",
        "first_treatment_date",
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(code="Meso Registry"), "'code' must be a short lower-case name"),
        (lambda d: d["extract"]["columns"][4].update(type="category"), "column subtype: type must be one of"),
        (lambda d: d["extract"]["columns"][4].pop("codes"), "column subtype: a code column needs a list of codes"),
        (lambda d: d["extract"]["columns"].append({"name": "age", "type": "integer"}), "column age is declared twice"),
        (
            lambda d: d["extract"]["columns"][3].update(minimum=1),
            "column age: unknown key 'minimum' (did you mean 'min'?)",
        ),
        (
            lambda d: d["extract"]["rules"].append(
                {"type": "not_before", "column": "age", "reference": "date_of_diagnosis"}
            ),
            "rule 4: not_before compares two declared date columns",
        ),
        (
            lambda d: d["extract"]["rules"][0]["when"].update(chemotherapy="yes"),
            "rule 1: chemotherapy is boolean, so compare it with true or false",
        ),
        (
            lambda d: d["extract"].update(provider="registry_id"),
            "'extract.provider' column registry_id must have type provider",
        ),
    ],
)
def test_it_refuses_a_malformed_definition_naming_the_entry(change, message):
    with pytest.raises(DefinitionError) as caught:
        parse_definition(broken(change), origin="meso.yaml")
    assert str(caught.value).startswith("meso.yaml: ")
    assert message in str(caught.value)


def test_a_file_is_parsed_once_and_again_whenever_its_text_changes(tmp_path):
    from audits.schema import load_definition

    shipped = (FIXTURES / "definitions" / "mesothelioma.yaml").read_text()
    path = tmp_path / "registry.yaml"
    path.write_text(shipped)
    first = load_definition(path)
    assert load_definition(path) is first  # the start-up checks, the registry and a command share one parse
    misspelt = shipped.replace("rules:", "rulez:", 1)
    assert len(misspelt) == len(shipped) and misspelt != shipped
    path.write_text(misspelt)  # same name, same size, perhaps the same time stamp: still read again
    with pytest.raises(DefinitionError, match="rulez"):
        load_definition(path)
