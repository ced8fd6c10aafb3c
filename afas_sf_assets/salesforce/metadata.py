"""The project's Salesforce customisation as a Salesforce DX source project, from salesforce/schema.py.

`afas-sf metadata --out DIR` writes it; `sf project deploy start --source-dir DIR/force-app` deploys the
`AFAS_` fields on standard objects and the `AFAS_…__c` objects to any org. The `AFAS_` fields on objects
that only some orgs have (Shipment, ProductCategory, Location, …) are in `DIR/optional/<feature>`, to
deploy where the org has that feature.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape

from afas_sf_assets.salesforce.declared import project_objects
from afas_sf_assets.salesforce.schema import SfField, SfObject, SfType

API_VERSION = "62.0"
_TYPES = {
    SfType.STRING: "Text",
    SfType.TEXTAREA: "LongTextArea",
    SfType.EMAIL: "Email",
    SfType.PHONE: "Phone",
    SfType.URL: "Url",
    SfType.BOOLEAN: "Checkbox",
    SfType.INT: "Number",
    SfType.DOUBLE: "Number",
    SfType.CURRENCY: "Currency",
    SfType.PERCENT: "Percent",
    SfType.DATE: "Date",
    SfType.DATETIME: "DateTime",
    SfType.PICKLIST: "Picklist",
    SfType.REFERENCE: "Lookup",
}
_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS = 'xmlns="http://soap.sforce.com/2006/04/metadata"'


def _label(name: str) -> str:
    return name.removesuffix("__c").removeprefix("AFAS_").replace("_", " ").strip() or name


def field_xml(sobject: SfObject, field: SfField) -> str:
    kind = _TYPES[field.type]
    parts = [
        f"<fullName>{field.name}</fullName>",
        f"<label>{escape(field.label or _label(field.name))[:40]}</label>",
        f"<type>{kind}</type>",
    ]
    if kind == "Text":
        parts.append(f"<length>{min(field.length, 255)}</length>")
        if field.external_id:
            parts += ["<externalId>true</externalId>", "<unique>true</unique>", "<caseSensitive>false</caseSensitive>"]
    elif kind == "LongTextArea":
        parts += [f"<length>{max(field.length, 256)}</length>", "<visibleLines>3</visibleLines>"]
    elif kind in ("Number", "Currency", "Percent"):
        precision, scale = field.digits
        parts += [f"<precision>{precision}</precision>", f"<scale>{scale}</scale>"]
    elif kind == "Checkbox":
        parts.append(f"<defaultValue>{'true' if field.default else 'false'}</defaultValue>")
    elif kind == "Picklist":
        values = "".join(
            f"<value><fullName>{escape(v)}</fullName><default>false</default><label>{escape(v)}</label></value>"
            for v in field.picklist
        )
        parts.append(
            f"<valueSet><restricted>true</restricted><valueSetDefinition>{values}</valueSetDefinition></valueSet>"
        )
    elif kind == "Lookup":
        parts += [
            f"<referenceTo>{field.reference_to[0]}</referenceTo>",
            f"<relationshipName>{(field.relationship_name or '').removesuffix('__r')}</relationshipName>",
            f"<relationshipLabel>{escape(_label(sobject.label))}</relationshipLabel>",
            f"<deleteConstraint>{'Restrict' if field.required else 'SetNull'}</deleteConstraint>",
        ]
    if field.required and kind not in ("Checkbox",):
        parts.append("<required>true</required>")
    return f"{_HEADER}<CustomField {_NS}>\n    " + "\n    ".join(parts) + "\n</CustomField>\n"


def plural(label: str) -> str:
    """`Shipment Line (AFAS)` → `Shipment Lines (AFAS)`."""
    name, bracket, rest = label.partition(" (")
    return f"{name}s{bracket}{rest}"


def object_xml(sobject: SfObject) -> str:
    return (
        f"{_HEADER}<CustomObject {_NS}>\n    <label>{escape(sobject.label)}</label>\n"
        f"    <pluralLabel>{escape(plural(sobject.label))}</pluralLabel>\n"
        "    <nameField><label>Name</label><type>Text</type></nameField>\n"
        "    <deploymentStatus>Deployed</deploymentStatus>\n    <sharingModel>ReadWrite</sharingModel>\n"
        "</CustomObject>\n"
    )


PERMISSION_SET = "AFAS_Integration"


def permission_set_xml(label: str, objects: list[SfObject]) -> str:
    """Read and edit on every AFAS_ field and object, for the integration user. Required fields are left
    out: Salesforce grants those to everyone and refuses a permission on them."""
    parts = [f"<label>{escape(label)}</label>", "<hasActivationRequired>false</hasActivationRequired>"]
    for sobject in objects:
        if sobject.custom:
            parts.append(
                f"<objectPermissions><allowCreate>true</allowCreate><allowDelete>true</allowDelete>"
                f"<allowEdit>true</allowEdit><allowRead>true</allowRead><modifyAllRecords>false</modifyAllRecords>"
                f"<object>{sobject.name}</object><viewAllRecords>false</viewAllRecords></objectPermissions>"
            )
        for field in _custom_fields(sobject):
            if not field.required:
                parts.append(
                    f"<fieldPermissions><editable>true</editable><field>{sobject.name}.{field.name}</field>"
                    "<readable>true</readable></fieldPermissions>"
                )
    return f"{_HEADER}<PermissionSet {_NS}>\n    " + "\n    ".join(parts) + "\n</PermissionSet>\n"


def _custom_fields(sobject: SfObject) -> list[SfField]:
    return [f for f in sobject.fields if f.custom and f.name != "Name"]


def package_of(sobject: SfObject) -> str:
    """Where an object's customisation goes: force-app for every org, optional/<feature> for the rest."""
    return "force-app" if sobject.feature is None or sobject.custom else f"optional/{sobject.feature.value}"


def write_project(out: Path) -> list[Path]:
    """Write sfdx-project.json, force-app (every org) and optional/<feature> (orgs with that feature), each
    with its fields, objects and permission set; returns the files written."""
    packages: dict[str, list[SfObject]] = {}
    for sobject in project_objects().values():
        if _custom_fields(sobject) or sobject.custom:
            packages.setdefault(package_of(sobject), []).append(sobject)
    project = out / "sfdx-project.json"
    out.mkdir(parents=True, exist_ok=True)
    project.write_text(
        json.dumps(
            {
                "packageDirectories": [{"path": name, "default": name == "force-app"} for name in sorted(packages)],
                "name": "afas-sf",
                "sourceApiVersion": API_VERSION,
            },
            indent=2,
        )
        + "\n"
    )
    written = [project]
    for package, objects in sorted(packages.items()):
        default = out / package / "main" / "default"
        for sobject in objects:
            folder = default / "objects" / sobject.name
            (folder / "fields").mkdir(parents=True, exist_ok=True)
            if sobject.custom:
                path = folder / f"{sobject.name}.object-meta.xml"
                path.write_text(object_xml(sobject))
                written.append(path)
            for field in _custom_fields(sobject):
                path = folder / "fields" / f"{field.name}.field-meta.xml"
                path.write_text(field_xml(sobject, field))
                written.append(path)
        suffix = "" if package == "force-app" else "_" + package.rsplit("/", 1)[1]
        (default / "permissionsets").mkdir(parents=True, exist_ok=True)
        path = default / "permissionsets" / f"{PERMISSION_SET}{suffix}.permissionset-meta.xml"
        path.write_text(permission_set_xml(f"AFAS integration{suffix.replace('_', ' ')}", objects))
        written.append(path)
    return written
