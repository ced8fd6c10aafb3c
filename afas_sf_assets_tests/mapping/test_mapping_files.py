from pathlib import Path

import pytest

from afas_sf_assets.flows.orders_out import OrdersOutConfig
from afas_sf_assets.mapping.apply import FieldMappingError, apply_mapping
from afas_sf_assets.mapping.model import MappingFileError, WritePolicy, load_mapping, load_yaml_model
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS

GOOD = """\
flow: products
source: {connector: AfasSf_Items, key: ItemCode}
target: {object: Product2, external_id: AFAS_Item_Code__c}
fields:
  AFAS_Item_Code__c: {from: ItemCode, transform: [trim], required: true}
  Name: {from: Description}
  Description: {from: LongDescription, on: create}
  QuantityUnitOfMeasure: {from: UnitId, map: units}
  Origin__c: {value: AFAS}
value_maps:
  units: {STK: Each, _default: Each}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "products.yaml"
    path.write_text(text)
    return path


def test_every_shipped_mapping_loads() -> None:
    flows = {load_mapping(path).flow for path in DEFAULT_MAPPINGS.glob("*.yaml") if path.name != "afas_orders.yaml"}
    assert flows == {
        "categories",
        "products",
        "product_relations",
        "customers",
        "prices",
        "stock",
        "orders",
        "shipments",
    }
    settings = load_yaml_model(DEFAULT_MAPPINGS / "afas_orders.yaml", OrdersOutConfig, "settings")
    assert settings.connector == "FbSales" and settings.mapped("payment_terms", "Net 14") == "14"


def test_orders_out_settings_errors_name_file_line_and_key(tmp_path: Path) -> None:
    text = (DEFAULT_MAPPINGS / "afas_orders.yaml").read_text().replace("connector: FbSales", "connector: FbBogus")
    path = tmp_path / "afas_orders.yaml"
    path.write_text(text)
    line = next(n for n, content in enumerate(text.splitlines(), 1) if content.startswith("connector:"))
    with pytest.raises(MappingFileError, match=f"{path}:{line}: connector"):
        load_yaml_model(path, OrdersOutConfig, "settings")


def test_on_create_is_a_policy_not_a_boolean(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, GOOD))
    assert mapping.fields["Description"].on is WritePolicy.CREATE
    assert mapping.fields["Name"].on is WritePolicy.ALWAYS


def test_create_only_fields_are_kept_apart(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, GOOD))
    record = apply_mapping(
        mapping, {"ItemCode": " A1 ", "Description": "Jas", "LongDescription": "Lang", "UnitId": "X"}
    )
    assert record.for_update() == {
        "AFAS_Item_Code__c": "A1",
        "Name": "Jas",
        "QuantityUnitOfMeasure": "Each",
        "Origin__c": "AFAS",
    }
    assert record.for_create()["Description"] == "Lang"


def test_required_field_empty_names_target_and_source(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, GOOD))
    with pytest.raises(FieldMappingError) as caught:
        apply_mapping(mapping, {"ItemCode": "  "})
    assert (caught.value.target_field, caught.value.source) == ("AFAS_Item_Code__c", "ItemCode")


@pytest.mark.parametrize(
    ("change", "line", "key", "reason"),
    [
        (
            ("transform: [trim]", "transform: [trim, shout]"),
            5,
            "fields.AFAS_Item_Code__c.transform",
            "unknown transform",
        ),
        (("map: units", "map: sizes"), 1, "(top level)", "value map 'sizes'"),
        (("on: create", "on: sometimes"), 7, "fields.Description.on", "'create' or 'always'"),
        (("  Name: {from: Description}", "  Name: {frm: Description}"), 6, "fields.Name", "frm"),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, change: tuple[str, str], line: int, key: str, reason: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(MappingFileError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert f"{path}:" in message and key in message and reason in message
    if line > 1:
        assert f"{path}:{line}:" in message


def test_external_id_must_be_mapped(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match="external id AFAS_Item_Code__c"):
        load_mapping(write(tmp_path, GOOD.replace("AFAS_Item_Code__c: {from", "Other__c: {from")))


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match="not valid YAML"):
        load_mapping(write(tmp_path, "fields: [unclosed"))


def test_a_call_to_a_function_that_cannot_be_imported_fails_the_file_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    text = (
        (DEFAULT_MAPPINGS / "products.yaml")
        .read_text()
        .replace(
            "  Name: {", "  AFAS_Shelf__c: {from: Size, transform: [{call: my_shop.transforms.size}]}\n  Name: {", 1
        )
    )
    path.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "my_shop" in t)
    with pytest.raises(
        MappingFileError, match=f"{path}:{line}: fields.AFAS_Shelf__c.transform: .*cannot import my_shop"
    ):
        load_mapping(path)


def test_a_field_mapped_twice_is_named_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "products.yaml"
    text = (DEFAULT_MAPPINGS / "products.yaml").read_text()
    path.write_text(
        text.replace(
            "  AFAS_Brand__c: {from: Brand}", "  AFAS_Brand__c: {from: Brand}\n  AFAS_Brand__c: {from: Material}"
        )
    )
    first = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("  AFAS_Brand__c"))
    with pytest.raises(
        MappingFileError, match=rf"{path}:{first + 1}: fields.AFAS_Brand__c appears twice \(also at line {first}\)"
    ):
        load_mapping(path)
