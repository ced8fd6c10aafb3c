"""The deployable Salesforce metadata matches the schema the sandbox serves and the preflight checks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from afas_sf_assets.salesforce.metadata import write_project
from afas_sf_assets.salesforce.schema import OBJECTS

NS = {"m": "http://soap.sforce.com/2006/04/metadata"}


def test_every_custom_field_and_object_is_written_as_valid_metadata(tmp_path: Path) -> None:
    written = write_project(tmp_path)
    assert json.loads((tmp_path / "sfdx-project.json").read_text())["packageDirectories"][0]["path"] == "force-app"
    objects = tmp_path / "force-app" / "main" / "default" / "objects"
    for path in written[1:]:
        ET.parse(path)  # well-formed
    expected = {
        (o.name, f.name)
        for o in OBJECTS.values()
        if o.feature is None or o.custom
        for f in o.fields
        if f.custom and f.name != "Name"
    }
    found = {(p.parent.parent.name, p.name.removesuffix(".field-meta.xml")) for p in objects.glob("*/fields/*.xml")}
    assert found == expected
    key = ET.parse(objects / "Product2" / "fields" / "AFAS_Item_Code__c.field-meta.xml").getroot()
    assert key.findtext("m:externalId", namespaces=NS) == "true"
    assert key.findtext("m:unique", namespaces=NS) == "true" and key.findtext("m:length", namespaces=NS) == "40"
    lookup = ET.parse(objects / "AFAS_Product_Relation__c" / "fields" / "Related_Product__c.field-meta.xml").getroot()
    assert (lookup.findtext("m:type", namespaces=NS), lookup.findtext("m:referenceTo", namespaces=NS)) == (
        "Lookup",
        "Product2",
    )
    kinds = ET.parse(objects / "Product2" / "fields" / "AFAS_Item_Kind__c.field-meta.xml").getroot()
    values = [v.findtext("m:fullName", namespaces=NS) for v in kinds.iter(f"{{{NS['m']}}}value")]
    assert values == ["simple", "configurable", "variant"]
    assert (objects / "AFAS_Shipment__c" / "AFAS_Shipment__c.object-meta.xml").exists()
    assert not (objects / "Shipment").exists(), "only orgs with Shipment get its fields"
