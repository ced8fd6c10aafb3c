"""The deployable Salesforce metadata matches the schema the sandbox serves and the preflight checks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from afas_sf_assets.defs.declared import FLOWS
from afas_sf_assets.mapping.model import load_mapping
from afas_sf_assets.salesforce.metadata import package_of, write_project
from afas_sf_assets.salesforce.schema import OBJECTS
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS

NS = {"m": "http://soap.sforce.com/2006/04/metadata"}


def test_every_custom_field_and_object_is_written_as_valid_metadata(tmp_path: Path) -> None:
    written = write_project(tmp_path)
    directories = json.loads((tmp_path / "sfdx-project.json").read_text())["packageDirectories"]
    assert [d["path"] for d in directories if d["default"]] == ["force-app"]
    for path in written[1:]:
        ET.parse(path)  # well-formed
    expected = {
        (package_of(o), o.name, f.name) for o in OBJECTS.values() for f in o.fields if f.custom and f.name != "Name"
    }
    found = {
        (str(p.relative_to(tmp_path)).split("/main/")[0], p.parent.parent.name, p.name.removesuffix(".field-meta.xml"))
        for p in tmp_path.glob("**/objects/*/fields/*.xml")
    }
    assert found == expected
    objects = tmp_path / "force-app" / "main" / "default" / "objects"
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
    line = ET.parse(objects / "AFAS_Shipment_Line__c" / "AFAS_Shipment_Line__c.object-meta.xml").getroot()
    assert line.findtext("m:pluralLabel", namespaces=NS) == "Shipment Lines (AFAS)"
    assert not (objects / "Shipment").exists(), "only orgs with Shipment get its fields"
    assert (tmp_path / "optional" / "shipment" / "main" / "default" / "objects" / "Shipment").is_dir()


def test_every_field_the_flows_write_is_deployed_with_its_feature(tmp_path: Path) -> None:
    write_project(tmp_path)
    for flow in FLOWS:
        mapping = load_mapping(DEFAULT_MAPPINGS / flow.mapping)
        for _, sobject, fields in mapping.sections():
            for name in (n for n in fields if n.endswith("__c")):
                package = package_of(OBJECTS[sobject])
                path = (
                    tmp_path / package / "main" / "default" / "objects" / sobject / "fields" / f"{name}.field-meta.xml"
                )
                assert path.exists(), f"{flow.mapping}: {sobject}.{name} is not in {package}"


def test_the_permission_set_grants_every_field_and_object(tmp_path: Path) -> None:
    write_project(tmp_path)
    for package in ("force-app", "optional/shipment"):
        (path,) = (tmp_path / package / "main" / "default" / "permissionsets").glob("*.permissionset-meta.xml")
        root = ET.parse(path).getroot()
        granted = {e.findtext("m:field", namespaces=NS) for e in root.iter(f"{{{NS['m']}}}fieldPermissions")}
        objects = {e.findtext("m:object", namespaces=NS) for e in root.iter(f"{{{NS['m']}}}objectPermissions")}
        wanted = {
            f"{o.name}.{f.name}"
            for o in OBJECTS.values()
            if package_of(o) == package
            for f in o.fields
            if f.custom and f.name != "Name" and not f.required
        }
        assert granted == wanted
        assert objects == {o.name for o in OBJECTS.values() if o.custom and package_of(o) == package}
