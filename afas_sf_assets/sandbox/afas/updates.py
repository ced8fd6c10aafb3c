"""UpdateConnectors in the sandbox: validate a body as Profit does, then change the GetConnector rows.

Field ids, types, formats, lengths and codes come from AFAS's OpenAPI (update_connectors.json, derived
by tools/derive_update_connectors.py); every element's `Fields` is validated against a JSON Schema
built from them with the `jsonschema` library, allowing what Profit's own wire format allows (numbers
as strings, booleans as "1"/"0", dates with or without a time, null or "" to clear a field). Which
fields are mandatory is decided here: AFAS's specs mark flags such as `AutoNum` as required too, while
Profit itself only refuses a missing currency, debtor, item or quantity, so the table below follows
AFAS's documentation of what Profit enforces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from afas_sf_assets.sandbox.afas.store import AfasStore


class ProfitError(Exception):
    """Answered as HTTP 500 with AFAS's error body."""


MANDATORY_ON_INSERT: dict[tuple[str, str], tuple[str, ...]] = {
    ("KnSalesRelationOrg", "KnSalesRelationOrg"): ("CuId",),
    ("KnSalesRelationOrg", "KnOrganisation"): ("Nm",),
    ("KnSalesRelationPer", "KnSalesRelationPer"): ("CuId",),
    ("KnSalesRelationPer", "KnPerson"): ("LaNm",),
    ("FbItemArticle", "FbItemArticle"): ("ItCd", "Grp", "BiUn"),
    ("FbSales", "FbSales"): ("DbId",),
    ("FbSales", "FbSalesLines"): ("VaIt", "ItCd", "BiUn", "QuUn"),
    ("FbSalesQuotation", "FbSalesQuotation"): ("DbId",),
    ("FbSalesQuotation", "FbSalesQuotationLines"): ("VaIt", "ItCd", "BiUn", "QuUn"),
    ("FbDirectInvoice", "FbDirectInvoice"): ("DbId",),
    ("FbDirectInvoice", "FbDirectInvoiceLines"): ("VaIt", "ItCd", "BiUn", "QuUn"),
    ("FbDeliveryNote", "FbDeliveryNote"): ("DbId",),
    ("FbDeliveryNote", "FbDeliveryNoteLines"): ("VaIt", "ItCd", "BiUn", "QuUn"),
    ("FiEntries", "FiEntryPar"): ("Year", "Peri", "JoCo"),
    ("FiEntries", "FiEntries"): ("VaAs", "AcNr", "EnDa", "BpDa"),
}
KEY_ON_UPDATE = {
    "KnSalesRelationOrg": "DbId",
    "KnSalesRelationPer": "DbId",
    "FbItemArticle": "ItCd",
    "FbSales": "OrNu",
    "FbSalesQuotation": "OrNu",
    "FbDirectInvoice": "OrNu",
    "FbDeliveryNote": "OrNu",
}
DOCUMENT_TYPES = {
    "FbSales": ("order", "FbSalesLines", "Open", 10_000),
    "FbSalesQuotation": ("quote", "FbSalesQuotationLines", "Open", 50_000),
    "FbDirectInvoice": ("direct_invoice", "FbDirectInvoiceLines", "Invoiced", 80_000),
}
# Free fields (vrije velden) are named U + 32 hex characters and exist on every object.
_FREE_FIELD = re.compile(r"^U[0-9A-Fa-f]{32}$")


@cache
def update_connector_tree() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("update_connectors.json")).read_text())


def _elements(node: Any) -> list[dict[str, Any]]:
    element = node.get("Element") if isinstance(node, dict) else None
    if element is None:
        raise ProfitError("Invalid json: an object needs an 'Element'")
    return element if isinstance(element, list) else [element]


def _objects(element: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    raw = element.get("Objects") or []
    holders = raw if isinstance(raw, list) else [raw]
    out: dict[str, list[dict[str, Any]]] = {}
    for holder in holders:
        for name, node in holder.items():
            out.setdefault(name, []).extend(_elements(node))
    return out


def _fields(element: dict[str, Any]) -> dict[str, Any]:
    """An element's fields; one sent as "" reads None (Profit clears it)."""
    fields = {k: (None if v == "" else v) for k, v in (element.get("Fields") or {}).items()}
    for attribute, value in element.items():
        if attribute.startswith("@"):
            fields.setdefault(attribute[1:], value)
    return fields


class _Absent:
    """A field that was not sent: an update leaves it as it is (unlike None, a field sent empty)."""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""


ABSENT: Any = _Absent()


def _sent(fields: dict[str, Any], field_id: str) -> Any:
    return fields.get(field_id, ABSENT)


_FORMATS = FormatChecker(formats=("email", "uuid"))
_AFAS_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?Z?)?$")


@_FORMATS.checks("afas-date", raises=ValueError)
def _is_afas_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _AFAS_DATE.match(value):
        return False
    date.fromisoformat(value[:10])
    return True


def _typed(spec: dict[str, Any]) -> dict[str, Any]:
    """What a value of this field may be on the wire, as Profit reads it."""
    kind = spec.get("json_type") or "string"
    if kind == "integer":
        return {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*-?\d+\s*$"}]}
    if kind == "number":
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*-?\d+([.,]\d+)?\s*$"}]}
    if kind == "boolean":
        return {"anyOf": [{"type": "boolean"}, {"enum": ["0", "1"]}]}
    if spec.get("type") == "date":
        return {"type": "string", "format": "afas-date"}
    if spec.get("type") in ("email", "uuid"):
        return {"type": "string", "format": spec["type"]}
    return {"type": ["string", "number", "integer"]}


def _field_schema(spec: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"anyOf": [{"type": "null"}, {"const": ""}, _typed(spec)]}
    if spec.get("length") and (spec.get("json_type") or "string") == "string":
        schema["maxLength"] = spec["length"]
    if spec.get("enum"):
        codes = list(spec["enum"])
        schema["enum"] = [None, "", *codes, *(int(c) for c in codes if c.isdigit())]
    return schema


@cache
def _validator(connector: str, path: tuple[str, ...]) -> Draft202012Validator:
    tree = update_connector_tree()[connector]
    for name in path[1:]:
        tree = tree["objects"][name]
    schema = {
        "type": "object",
        "properties": {field_id: _field_schema(spec) for field_id, spec in tree["fields"].items()},
        "patternProperties": {_FREE_FIELD.pattern: {}},
        "additionalProperties": False,
    }
    return Draft202012Validator(schema, format_checker=_FORMATS)


def _refusal(object_name: str, tree: dict[str, Any], error: Any) -> str:
    """A schema error in Profit's words: the object, the field's label and id, the value and the rule."""
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(tree["fields"]))
        field_id = next((f for f in unknown if not _FREE_FIELD.match(f)), unknown[0] if unknown else "?")
        return f"Field '{field_id}' does not exist in object '{object_name}'"
    if error.validator == "type" and not error.path:
        return f"Invalid json: 'Fields' of object '{object_name}' must be an object"
    field_id = str(error.path[0]) if error.path else "?"
    spec = tree["fields"].get(field_id, {})
    label = f"'{spec.get('label') or field_id}' ({field_id})"
    value = error.instance
    if error.validator == "maxLength":
        return (
            f"Object '{object_name}', field {label}: the value is {len(value)} characters long, "
            f"at most {spec['length']} are allowed"
        )
    if error.validator == "enum":
        codes = ", ".join(spec.get("enum") or [])
        return f"Object '{object_name}', field {label}: '{value}' is not a valid code (allowed: {codes})"
    expected = {"integer": "a whole number", "number": "a number", "boolean": "a boolean (true, false, 1 or 0)"}.get(
        spec.get("json_type") or "", "a date (yyyy-mm-dd)" if spec.get("type") == "date" else f"a {spec.get('type')}"
    )
    return f"Object '{object_name}', field {label}: '{value}' is not {expected}"


def validate(
    connector: str,
    root_name: str,
    element: dict[str, Any],
    tree: dict[str, Any],
    *,
    insert: bool,
    path: tuple[str, ...] | None = None,
) -> None:
    """Field ids, values (type, format, length, codes) and objects against AFAS's OpenAPI, and (on insert)
    missing mandatory fields, as Profit reports them."""
    path = path or (root_name,)
    if not isinstance(element, dict):
        raise ProfitError(f"Invalid json: an element of object '{root_name}' must be an object")
    error = next(iter(_validator(connector, path).iter_errors(element.get("Fields") or {})), None)
    if error is not None:
        raise ProfitError(_refusal(root_name, tree, error))
    fields = _fields(element)
    if insert:
        missing = [f for f in MANDATORY_ON_INSERT.get((connector, root_name), ()) if fields.get(f) in (None, "")]
        if missing:
            raise ProfitError(f"Object '{root_name}': mandatory field(s) not filled: {', '.join(missing)}")
    for name, children in _objects(element).items():
        subtree = tree["objects"].get(name)
        if subtree is None:
            raise ProfitError(f"Object '{name}' does not exist in object '{root_name}'")
        for child in children:
            validate(connector, name, child, subtree, insert=insert, path=(*path, name))


def _first(element: dict[str, Any], *path: str) -> dict[str, Any]:
    """Fields of the first nested object along `path` (empty when absent)."""
    current: dict[str, Any] | None = element
    for name in path:
        children = _objects(current).get(name) if current else None
        current = children[0] if children else None
    return _fields(current) if current else {}


def _address(fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    if not fields:
        return {}
    return {
        f"{prefix}Street": _sent(fields, "Ad"),
        f"{prefix}HouseNumber": _int(_sent(fields, "HmNr")),
        f"{prefix}HouseNumberAddition": _sent(fields, "HmAd"),
        f"{prefix}PostalCode": _sent(fields, "ZpCd"),
        f"{prefix}City": _sent(fields, "Rs"),
        f"{prefix}Country": _sent(fields, "CoId"),
    }


def _int(value: Any) -> Any:
    if value is ABSENT or value is None:
        return value
    return int(str(value).strip())


def _number(value: Any) -> Any:
    if value is ABSENT or value is None:
        return value
    return float(str(value).strip().replace(",", "."))


def _flag(value: Any) -> Any:
    """A boolean as Profit reads it: true/false or "1"/"0"."""
    if value is ABSENT or value is None:
        return value
    return value is True or str(value).lower() in ("1", "true")


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The row's fields that were sent: a cleared field becomes None, one not sent is left out."""
    return {k: v for k, v in values.items() if v is not ABSENT}


class UpdateConnectors:
    def __init__(self, store: AfasStore) -> None:
        self.store = store

    def handle(self, method: str, connector: str, sub_object: str | None, body: Any) -> dict[str, Any]:
        tree = update_connector_tree().get(connector)
        if tree is None:
            raise ProfitError(f"UpdateConnector '{connector}' not supported for this app or the user is not authorized")
        if not isinstance(body, dict) or len(body) != 1:
            raise ProfitError("Invalid json: the body needs exactly one root object")
        ((root_name, node),) = body.items()
        if root_name != tree["root"]:
            raise ProfitError(f"Object '{root_name}' does not exist in UpdateConnector '{connector}'")
        elements = _elements(node)
        if sub_object:
            if sub_object not in tree["objects"]:
                raise ProfitError(f"Object '{sub_object}' does not exist in object '{connector}'")
            for element in elements:
                # The parent is only named by its key here; its own mandatory fields are not asked for.
                validate(connector, root_name, element, tree, insert=False)
                for child in _objects(element).get(sub_object, []):
                    validate(
                        connector,
                        sub_object,
                        child,
                        tree["objects"][sub_object],
                        insert=True,
                        path=(root_name, sub_object),
                    )
            return {root_name: self._add_lines(connector, sub_object, elements)}
        for element in elements:
            validate(connector, root_name, element, tree, insert=method == "POST")
        results = [self._apply(method, connector, element) for element in elements]
        return {root_name: results[0] if len(results) == 1 else results}

    def delete(self, connector: str, key_field: str, value: str) -> None:
        if connector in DOCUMENT_TYPES and key_field == "OrNu":
            doc_type = DOCUMENT_TYPES[connector][0]
            if not self.store.get("AfasSf_SalesDocuments", DocumentType=doc_type, DocumentNumber=value):
                raise ProfitError(f"Record with OrNu '{value}' does not exist")
            self.store.delete_rows("AfasSf_SalesDocuments", {"DocumentType": doc_type, "DocumentNumber": value})
            self.store.delete_rows("AfasSf_SalesDocumentLines", {"DocumentType": doc_type, "DocumentNumber": value})
            return
        if connector == "FbItemArticle" and key_field == "ItCd":
            if not self.store.delete_rows("AfasSf_Items", {"ItemCode": value}):
                raise ProfitError(f"Record with ItCd '{value}' does not exist")
            return
        raise ProfitError(f"Deleting {connector} by {key_field} is not supported")

    def _free_number(self, counter: str, start: int, taken: Callable[[str], Any]) -> str:
        """Profit's next number, past any number the data already holds (demo data, imports)."""
        while True:
            number = str(self.store.next_number(counter, start))
            if not taken(number):
                return number

    # -- effects ------------------------------------------------------------------------------

    def _apply(self, method: str, connector: str, element: dict[str, Any]) -> dict[str, Any]:
        fields = _fields(element)
        if method == "PUT":
            key_field = KEY_ON_UPDATE[connector]
            if fields.get(key_field) in (None, ""):
                raise ProfitError(f"Object '{connector}': key field '{key_field}' is required to update")
        if connector in ("KnSalesRelationOrg", "KnSalesRelationPer"):
            return self._debtor(method, connector, element, fields)
        if connector == "FbItemArticle":
            return self._item(method, fields)
        if connector in DOCUMENT_TYPES:
            return self._document(method, connector, element, fields)
        if connector == "FbDeliveryNote":
            return self._delivery_note(method, element, fields)
        if connector == "FiEntries":
            return self._financial_entry(element, fields)
        raise ProfitError(f"UpdateConnector '{connector}' is read-only in this environment")

    def _debtor(self, method: str, connector: str, element: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        existing = self.store.get("AfasSf_Debtors", DebtorId=str(fields["DbId"])) if fields.get("DbId") else None
        if method == "POST" and existing:
            raise ProfitError(f"Debtor '{fields['DbId']}' already exists")
        if method == "PUT" and not existing:
            raise ProfitError(f"Debtor '{fields['DbId']}' does not exist")
        debtor_id = str(
            fields.get("DbId")
            or self._free_number("debtor", 20_000, lambda n: self.store.get("AfasSf_Debtors", DebtorId=n))
        )
        if connector == "KnSalesRelationOrg":
            party = _first(element, "KnOrganisation")
            contact = _first(element, "KnOrganisation", "KnContact", "KnPerson")
            address = _first(element, "KnOrganisation", "KnBasicAddressAdr")
            delivery = _first(element, "KnOrganisation", "KnBasicAddressPad")
            names = {
                "CompanyName": _sent(party, "Nm"),
                "DebtorName": _sent(party, "Nm"),
                "ContactFirstName": _sent(contact, "FiNm"),
                "ContactLastName": _sent(contact, "LaNm"),
                "CocNumber": _sent(party, "CcNr"),
            }
        else:
            party = _first(element, "KnPerson")
            address = _first(element, "KnPerson", "KnBasicAddressAdr")
            delivery = _first(element, "KnPerson", "KnBasicAddressPad")
            full_name = " ".join(p for p in (party.get("FiNm"), party.get("Is"), party.get("LaNm")) if p) or None
            names = {
                "DebtorName": full_name if party else ABSENT,
                "ContactFirstName": _sent(party, "FiNm"),
                "ContactLastName": _sent(party, "LaNm"),
            }
        row = _present(
            {
                "DebtorId": debtor_id,
                **names,
                "Email": _sent(party, "EmAd"),
                "Phone": _sent(party, "TeNr"),
                "Mobile": _sent(party, "MbNr"),
                **_address(address, "Billing"),
                **_address(delivery or address, "Delivery"),
                "VatNumber": _sent(fields, "VaId"),
                "PaymentCondition": _sent(fields, "PaCd"),
                "PriceGroup": _sent(fields, "PrLs"),
                "CurrencyId": _sent(fields, "CuId"),
                "Blocked": _flag(fields["Bl"]) if "Bl" in fields else ABSENT,
            }
        )
        if method == "POST":
            row.setdefault("Blocked", False)
            row["CreateDate"] = date.today().isoformat() + "T00:00:00Z"
        self.store.upsert_rows("AfasSf_Debtors", [row])
        return {"DbId": debtor_id}

    def _item(self, method: str, fields: dict[str, Any]) -> dict[str, Any]:
        code = str(fields["ItCd"])
        existing = self.store.get("AfasSf_Items", ItemCode=code)
        if method == "POST" and existing:
            raise ProfitError(f"Item '{code}' already exists")
        if method == "PUT" and not existing:
            raise ProfitError(f"Item '{code}' does not exist")
        row = _present(
            {
                "ItemCode": code,
                "Description": _sent(fields, "Ds"),
                "ExtraDescription": _sent(fields, "DsEx"),
                "ItemGroup": _sent(fields, "Grp"),
                "UnitId": _sent(fields, "BiUn"),
                "Barcode": _sent(fields, "BaCo"),
                "ManageStock": _flag(_sent(fields, "BiSt")),
                "Blocked": _flag(_sent(fields, "Bl")),
            }
        )
        if method == "POST":
            row.setdefault("ItemKind", "simple")
            row.setdefault("Blocked", False)
        self.store.upsert_rows("AfasSf_Items", [row])
        return {"ItCd": code}

    def _check_debtor(self, debtor_id: Any) -> dict[str, Any]:
        debtor = self.store.get("AfasSf_Debtors", DebtorId=str(debtor_id))
        if debtor is None:
            raise ProfitError(f"Sales relation '{debtor_id}' does not exist")
        return debtor

    def _lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for line in lines:
            fields = _fields(line)
            item = None
            if str(fields.get("VaIt")) == "2":
                item = self.store.get("AfasSf_Items", ItemCode=str(fields["ItCd"]))
                if item is None:
                    raise ProfitError(f"Item '{fields['ItCd']}' does not exist")
                if item.get("Blocked"):
                    raise ProfitError(f"Item '{fields['ItCd']}' is blocked")
            quantity = _number(fields.get("QuUn")) or 0.0
            price = _number(fields.get("Upri"))
            if price is None:
                price = float((item or {}).get("BasicSalesPrice") or 0)
            out.append(
                {
                    "ItemCode": str(fields.get("ItCd")),
                    "Quantity": quantity,
                    "UnitPrice": price,
                    "Description": fields.get("Ds") or (item or {}).get("Description"),
                    "LineTotal": round(quantity * price, 2),
                }
            )
        return out

    def _document(self, method: str, connector: str, element: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        doc_type, lines_object, status, start = DOCUMENT_TYPES[connector]
        if method == "PUT":
            number = str(fields["OrNu"])
            if not self.store.get("AfasSf_SalesDocuments", DocumentType=doc_type, DocumentNumber=number):
                raise ProfitError(f"Record with OrNu '{number}' does not exist")
            self.store.upsert_rows(
                "AfasSf_SalesDocuments",
                [
                    _present(
                        {
                            "DocumentType": doc_type,
                            "DocumentNumber": number,
                            "Reference": _sent(fields, "RfCs"),
                            "PaymentCondition": _sent(fields, "PaCd"),
                            "PaymentMethod": _sent(fields, "PaTp"),
                            "Warehouse": _sent(fields, "War"),
                            "Status": _sent(fields, "Status"),
                        }
                    )
                ],
            )
            return {"OrNu": number}
        debtor = self._check_debtor(fields["DbId"])
        lines = self._lines(_objects(element).get(lines_object, []))
        number = str(
            fields.get("OrNu")
            or self._free_number(
                f"document:{doc_type}",
                start,
                lambda n: self.store.get("AfasSf_SalesDocuments", DocumentType=doc_type, DocumentNumber=n),
            )
        )
        if self.store.get("AfasSf_SalesDocuments", DocumentType=doc_type, DocumentNumber=number):
            raise ProfitError(f"Record with OrNu '{number}' already exists")
        self._write_document(doc_type, number, status, fields, debtor, lines)
        return {"OrNu": number}

    def _write_document(
        self,
        doc_type: str,
        number: str,
        status: str,
        fields: dict[str, Any],
        debtor: dict[str, Any],
        lines: list[dict[str, Any]],
    ) -> None:
        total = round(sum(line["LineTotal"] for line in lines), 2)
        self.store.upsert_rows(
            "AfasSf_SalesDocuments",
            [
                {
                    "DocumentType": doc_type,
                    "DocumentNumber": number,
                    "DebtorId": debtor["DebtorId"],
                    "Email": debtor.get("Email"),
                    "DocumentDate": (fields.get("OrDa") or date.today().isoformat())[:10] + "T00:00:00Z",
                    "Status": status,
                    "CurrencyId": fields.get("CuId") or debtor.get("CurrencyId") or "EUR",
                    "PaymentCondition": fields.get("PaCd") or debtor.get("PaymentCondition"),
                    "PaymentMethod": fields.get("PaTp"),
                    "Reference": fields.get("RfCs"),
                    "InvoiceNumber": number if doc_type == "direct_invoice" else None,
                    "Administration": _int(fields.get("Unit")),
                    "Warehouse": fields.get("War"),
                    "TotalExclVat": total,
                    "TotalInclVat": round(total * 1.21, 2),
                }
            ],
        )
        self.store.upsert_rows(
            "AfasSf_SalesDocumentLines",
            [
                {"DocumentType": doc_type, "DocumentNumber": number, "LineNumber": index, **line}
                for index, line in enumerate(lines, start=1)
            ],
        )

    def _add_lines(self, connector: str, sub_object: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
        if connector not in DOCUMENT_TYPES:
            raise ProfitError(f"Adding '{sub_object}' to '{connector}' is not supported")
        doc_type = DOCUMENT_TYPES[connector][0]
        number = ""
        for element in elements:
            number = str(_fields(element).get("OrNu") or "")
            if not self.store.get("AfasSf_SalesDocuments", DocumentType=doc_type, DocumentNumber=number):
                raise ProfitError(f"Record with OrNu '{number}' does not exist")
            existing = self.store.query_lines(doc_type, number)
            new_lines = self._lines(_objects(element).get(sub_object, []))
            self.store.upsert_rows(
                "AfasSf_SalesDocumentLines",
                [
                    {"DocumentType": doc_type, "DocumentNumber": number, "LineNumber": offset, **line}
                    for offset, line in enumerate(new_lines, start=len(existing) + 1)
                ],
            )
        return {"OrNu": number}

    def _delivery_note(self, method: str, element: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        if method == "PUT":
            raise ProfitError("Updating delivery notes is not supported in this environment")
        debtor = self._check_debtor(fields["DbId"])
        lines = self._lines(_objects(element).get("FbDeliveryNoteLines", []))
        number = str(
            fields.get("OrNu")
            or self._free_number(
                "document:delivery_note", 90_000, lambda n: self.store.get("AfasSf_DeliveryNotes", DeliveryNoteNumber=n)
            )
        )
        self.store.upsert_rows(
            "AfasSf_DeliveryNotes",
            [
                {
                    "DeliveryNoteNumber": number,
                    "OrderNumber": fields.get("RfCs"),
                    "DebtorId": debtor["DebtorId"],
                    "DeliveryDate": (fields.get("OrDa") or date.today().isoformat())[:10] + "T00:00:00Z",
                    "Status": "Delivered",
                }
            ],
        )
        self.store.upsert_rows(
            "AfasSf_DeliveryNoteLines",
            [
                {
                    "DeliveryNoteNumber": number,
                    "LineNumber": index,
                    "OrderNumber": fields.get("RfCs"),
                    "ItemCode": line["ItemCode"],
                    "Quantity": line["Quantity"],
                }
                for index, line in enumerate(lines, start=1)
            ],
        )
        return {"OrNu": number}

    def _financial_entry(self, element: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        entries = _objects(element).get("FiEntries", [])
        if not entries:
            raise ProfitError("Object 'FiEntryPar': at least one 'FiEntries' line is required")
        number = self._free_number(
            "document:financial_mutation",
            70_000,
            lambda n: self.store.get("AfasSf_SalesDocuments", DocumentType="financial_mutation", DocumentNumber=n),
        )
        debtor_lines = [_fields(e) for e in entries if str(_fields(e).get("VaAs")) == "2"]
        debtor = self._check_debtor(debtor_lines[0]["AcNr"]) if debtor_lines else None
        amount = sum((_number(e.get("AmDe")) or 0.0) - (_number(e.get("AmCr")) or 0.0) for e in debtor_lines)
        self.store.upsert_rows(
            "AfasSf_SalesDocuments",
            [
                {
                    "DocumentType": "financial_mutation",
                    "DocumentNumber": number,
                    "DebtorId": debtor["DebtorId"] if debtor else None,
                    "Email": debtor.get("Email") if debtor else None,
                    "DocumentDate": str(_fields(entries[0]).get("EnDa"))[:10] + "T00:00:00Z",
                    "Status": "Booked",
                    "Reference": _fields(entries[0]).get("Ds"),
                    "Administration": _int(fields.get("UnId")),
                    "InvoiceNumber": debtor_lines[0].get("InId") if debtor_lines else None,
                    "TotalExclVat": round(amount, 2),
                    "TotalInclVat": round(amount, 2),
                }
            ],
        )
        # Unconfirmed: which keys Profit returns for FiEntries; the entry number is what callers need.
        return {"EnNo": number}
