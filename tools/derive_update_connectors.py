"""Derive the sandbox's UpdateConnector field lists from AFAS's own OpenAPI excerpts.

Run from the repository root when the excerpts in ../shared/reference/afas-openapi change:
    python tools/derive_update_connectors.py ../shared/reference/afas-openapi
It writes afas_sf_assets/sandbox/afas/update_connectors.json (field ids, types and formats, labels,
lengths, enumerated codes, nested objects); the sandbox validates bodies against them with a JSON
Schema validator. Which fields are mandatory is decided in the sandbox's code, not here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CONNECTORS = {
    "KnSalesRelationOrg": "organisaties-en-personen.json",
    "KnSalesRelationPer": "organisaties-en-personen.json",
    "FbItemArticle": "artikelen.json",
    "FbSales": "verkoop-en-orders.json",
    "FbSalesQuotation": "verkoop-en-orders.json",
    "FbDirectInvoice": "verkoop-en-orders.json",
    "FbDeliveryNote": "verkoop-en-orders.json",
    "FiEntries": "mutaties.json",
}


def _element_schema(node: dict[str, Any]) -> dict[str, Any]:
    element = node["properties"]["Element"]
    return element["items"] if element.get("type") == "array" else element


def _walk(element: dict[str, Any], into: dict[str, Any]) -> None:
    props = element.get("properties", {})
    for field_id, spec in props.get("Fields", {}).get("properties", {}).items():
        into["fields"].setdefault(
            field_id,
            {
                "type": spec.get("format") or spec.get("type", "string"),
                "json_type": spec.get("type", "string"),
                "label": (spec.get("description") or "").split("\n")[0],
                "length": spec.get("maxLength"),
                "enum": spec.get("enum"),
            },
        )
    objects = props.get("Objects")
    if not objects:
        return
    holder = objects.get("items", objects)
    for name, child in holder.get("properties", {}).items():
        _walk(_element_schema(child), into["objects"].setdefault(name, {"fields": {}, "objects": {}}))


def main(spec_dir: Path) -> None:
    result: dict[str, Any] = {}
    for connector, filename in CONNECTORS.items():
        schemas = json.loads((spec_dir / filename).read_text())["components"]["schemas"]
        tree: dict[str, Any] = {"fields": {}, "objects": {}}
        for method in ("POST", "PUT"):
            schema = schemas.get(f"{connector}_{method}")
            if schema:
                ((root_name, root),) = schema["properties"].items()
                tree["root"] = root_name
                _walk(_element_schema(root), tree)
        result[connector] = tree
    out = Path("afas_sf_assets/sandbox/afas/update_connectors.json")
    out.write_text(json.dumps(result, indent=0, sort_keys=True) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
