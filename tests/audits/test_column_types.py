"""The column types (audits/ingest/columns/): each declared once, and every other module asks the registry."""

import pytest
import yaml

from audits.ingest.columns import COLUMN_TYPES
from audits.schema import ANY_TYPE_KEYS, COLUMN_KEYS, DefinitionError, parse_definition
from tests.conftest import FIXTURES

BASE = yaml.safe_load((FIXTURES / "definitions" / "mesothelioma.yaml").read_text())


def with_column(**entry):
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    raw["extract"]["columns"].append({"name": "extra", **entry})
    return raw


def test_every_type_declares_its_own_keys_apart_from_the_common_ones():
    assert {"text", "integer", "date", "boolean", "code", "provider"} <= set(COLUMN_TYPES)
    for kind in COLUMN_TYPES.values():
        assert not kind.keys & COLUMN_KEYS, kind.name
    assert ANY_TYPE_KEYS == COLUMN_KEYS.union(*(kind.keys for kind in COLUMN_TYPES.values()))


@pytest.mark.parametrize(
    "entry, message, key",
    [
        ({"type": "text", "codes": ["a"]}, "column extra: 'codes' does not apply to text columns", "codes"),
        ({"type": "date", "min": 1}, "column extra: 'min' does not apply to date columns", "min"),
        (
            {"type": "integer", "not_after_extract_date": True},
            "column extra: 'not_after_extract_date' does not apply to integer columns",
            "not_after_extract_date",
        ),
        ({"type": "boolean", "minimum": 1}, "column extra: unknown key 'minimum' (did you mean 'min'?)", "minimum"),
        ({"type": ["text"]}, "column extra: type must be one of text, integer", None),
    ],
)
def test_a_key_of_another_type_is_refused_naming_it(entry, message, key):
    with pytest.raises(DefinitionError) as caught:
        parse_definition(with_column(**entry), origin="meso.yaml")
    assert message in str(caught.value) and caught.value.key == key


def test_a_column_keeps_its_type_s_keys_as_checked():
    definition = parse_definition(with_column(type="integer", min=0), origin="meso.yaml")
    extra = definition.column("extra")
    assert (extra.min, extra.max, extra.option("min")) == (0, None, 0)
    assert definition.column("subtype").codes == ("epithelioid", "sarcomatoid", "biphasic", "nos")
    assert definition.column("date_of_diagnosis").not_after_extract_date is True
