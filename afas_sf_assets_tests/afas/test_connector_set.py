from pathlib import Path

from afas_sf_assets.afas.connector_set import CONNECTOR_SET

DOC = Path(__file__).resolve().parents[2] / "docs" / "afas-connectors.md"


def test_the_documented_connector_set_is_the_one_the_code_reads() -> None:
    text = DOC.read_text()
    for spec in CONNECTOR_SET.values():
        assert f"## `{spec.id}`" in text
        for field in spec.fields:
            assert f"| `{field.id}` | {field.data_type.value} |" in text, f"{spec.id}.{field.id} undocumented"


def test_every_connector_has_its_key_and_modification_date_among_its_fields() -> None:
    for spec in CONNECTOR_SET.values():
        assert set(spec.key) <= set(spec.field_ids)
        assert spec.modified_field is None or spec.modified_field in spec.field_ids
