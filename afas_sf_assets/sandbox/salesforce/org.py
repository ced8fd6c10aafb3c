"""The sandbox org: records of the project's schema, validated and changed as Salesforce does.

Every write, whether from REST, sObject Collections, composite or Bulk 2.0, goes through `save`, so
each entry point refuses the same things with the same error codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from afas_sf_assets.salesforce.schema import OBJECTS, OrgFeature, SfField, SfObject, SfType, objects_for
from afas_sf_assets.sandbox.salesforce import soql
from afas_sf_assets.sandbox.salesforce.ids import make_id, to_18
from afas_sf_assets.sandbox.salesforce.store import SfStore

API_VERSION = "62.0"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RecordError(Exception):
    """One record refused: what Salesforce puts in `errors[]` (and, alone, in a 400 body)."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []
        self.status = status

    def as_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def as_body(self) -> list[dict[str, Any]]:
        return [{"errorCode": self.code, "message": self.message, "fields": self.fields}]


class MultipleMatches(Exception):
    def __init__(self, ids: list[str]) -> None:
        super().__init__("more than one record matches the external id")
        self.ids = ids


@dataclass
class SaveResult:
    id: str
    created: bool


def _entry_key(record: dict[str, Any], currency: str) -> str:
    return f"{record['Pricebook2Id']}|{record['Product2Id']}|{currency}"


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Org:
    store: SfStore
    features: frozenset[OrgFeature] = field(default_factory=frozenset)

    # -- schema --------------------------------------------------------------------------------

    def objects(self) -> dict[str, SfObject]:
        return objects_for(self.features)

    def sobject(self, name: str) -> SfObject:
        found = next((o for n, o in self.objects().items() if n.lower() == name.lower()), None)
        if found is None:
            raise RecordError(
                "NOT_FOUND",
                f"The requested resource does not exist: sObject type '{name}' is not supported.",
                status=404,
            )
        return found

    def fields(self, obj: SfObject) -> tuple[SfField, ...]:
        return obj.all_fields(self.features)

    def field(self, obj: SfObject, name: str) -> SfField | None:
        lowered = name.lower()
        return next((f for f in self.fields(obj) if f.name.lower() == lowered), None)

    def describe(self, obj: SfObject) -> dict[str, Any]:
        return {
            "name": obj.name,
            "label": obj.label,
            "custom": obj.custom,
            "keyPrefix": obj.key_prefix,
            "createable": obj.createable,
            "updateable": obj.updateable,
            "deletable": True,
            "queryable": True,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label or f.name,
                    "type": f.type.value,
                    "length": f.length,
                    "custom": f.custom,
                    "externalId": f.external_id,
                    "unique": f.unique,
                    "idLookup": f.external_id or f.name == "Id",
                    "nillable": f.nillable,
                    "createable": f.createable,
                    "updateable": f.updateable,
                    "defaultedOnCreate": f.default is not None,
                    "referenceTo": list(f.reference_to),
                    "relationshipName": f.relationship_name,
                    "picklistValues": [
                        {"value": v, "label": v, "active": True, "defaultValue": v == f.default} for v in f.picklist
                    ],
                    "restrictedPicklist": bool(f.picklist),
                }
                for f in self.fields(obj)
            ],
            "recordTypeInfos": [
                {"name": r["Name"], "developerName": r["DeveloperName"], "recordTypeId": r["Id"], "available": True}
                for r in self.store.iter_records("RecordType")
                if r["SobjectType"] == obj.name
            ]
            if OrgFeature.PERSON_ACCOUNTS in self.features
            else [],
        }

    # -- set-up --------------------------------------------------------------------------------

    def ensure_standing_data(self) -> None:
        """The records every org has: the standard price book and the Account record types."""
        with self.store.transaction():
            if not any(r.get("IsStandard") for r in self.store.iter_records("Pricebook2")):
                self._insert_raw("Pricebook2", {"Name": "Standard Price Book", "IsActive": True, "IsStandard": True})
            if not any(True for _ in self.store.iter_records("RecordType")):
                self._insert_raw(
                    "RecordType",
                    {
                        "Name": "Business Account",
                        "DeveloperName": "Business_Account",
                        "SobjectType": "Account",
                        "IsActive": True,
                        "IsPersonType": False,
                    },
                )
                self._insert_raw(
                    "RecordType",
                    {
                        "Name": "Person Account",
                        "DeveloperName": "PersonAccount",
                        "SobjectType": "Account",
                        "IsActive": True,
                        "IsPersonType": True,
                    },
                )

    def _new_id(self, obj: SfObject) -> str:
        return make_id(obj.key_prefix, self.store.next_number(f"id:{obj.key_prefix}", 1))

    def _insert_raw(self, sobject: str, values: dict[str, Any]) -> str:
        obj = OBJECTS[sobject]
        record_id = self._new_id(obj)
        stamp = now_text()
        self.store.put(
            record_id,
            sobject,
            {"Id": record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp, **values},
        )
        return record_id

    # -- reads ---------------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        obj = self.sobject(sobject)
        full = to_18(record_id)
        found = self.store.get(full) if full else None
        if found is None or found[0] != obj.name:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        return found[1]

    def find_by_external_id(self, obj: SfObject, field_name: str, value: str) -> list[str]:
        definition = self.field(obj, field_name)
        if definition is None:
            raise RecordError(
                "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}", status=404
            )
        if definition.name == "Id":
            full = to_18(value)
            found = self.store.get(full) if full else None
            return [full] if found and found[0] == obj.name else []
        if not (definition.external_id or definition.unique):
            raise RecordError(
                "INVALID_FIELD", f"Field {definition.name} is not an external id field", [definition.name]
            )
        found_id = self.store.find_unique(obj.name, definition.name, value)
        return [found_id] if found_id else []

    # -- writes --------------------------------------------------------------------------------

    def save(
        self,
        sobject: str,
        body: dict[str, Any],
        *,
        record_id: str | None = None,
        external: tuple[str, str] | None = None,
        create_only: bool = False,
        update_only: bool = False,
    ) -> SaveResult:
        """Create, update (by `record_id`) or upsert (by `external` field and value) one record."""
        obj = self.sobject(sobject)
        self._maybe_lock_fault()
        existing: dict[str, Any] | None = None
        if record_id is not None:
            existing = self.get(obj.name, record_id)
        elif external is not None:
            matches = self.find_by_external_id(obj, *external)
            if len(matches) > 1:
                raise MultipleMatches(matches)
            if matches:
                existing = self.store.get(matches[0])[1]  # type: ignore[index]
            elif update_only:
                raise RecordError(
                    "NOT_FOUND", "Provided external ID field does not exist or is not accessible", status=404
                )
        if existing is None and not obj.createable:
            raise RecordError("CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY", f"entity type {obj.name} cannot be inserted")
        if existing is not None and create_only:
            raise RecordError("DUPLICATE_VALUE", "duplicate value found: Id", ["Id"])
        values = self._normalise(obj, body, creating=existing is None, external=external)
        if external is not None and existing is None:
            ext_field = self.field(obj, external[0])
            if ext_field is not None and ext_field.name != "Id":
                values.setdefault(ext_field.name, external[1])
        with self.store.savepoint():
            if existing is None:
                return SaveResult(self._create(obj, values), True)
            self._update(obj, existing, values)
            return SaveResult(existing["Id"], False)

    def delete(self, sobject: str, record_id: str) -> None:
        obj = self.sobject(sobject)
        record = self.get(obj.name, record_id)
        self._maybe_lock_fault()
        if obj.name == "Order" and record.get("Status") == "Activated":
            raise RecordError("FIELD_INTEGRITY_EXCEPTION", "You can't delete an activated order.", ["Status"])
        if obj.name == "OrderItem":
            self._check_order_editable(record["OrderId"])
        if obj.name == "Pricebook2" and record.get("IsStandard"):
            raise RecordError("DELETE_FAILED", "You can't delete the standard price book.")
        with self.store.savepoint():
            self.store.mark_deleted(record["Id"])
            if obj.name == "Order":
                for item in list(self.store.iter_records("OrderItem")):
                    if item["OrderId"] == record["Id"]:
                        self.store.mark_deleted(item["Id"])
            if obj.name == "OrderItem":
                self._recalculate_order(record["OrderId"])

    def _maybe_lock_fault(self) -> None:
        faults = self.store.get_meta("faults", {})
        pending = int(faults.get("lock_next_records", 0))
        if pending:
            self.store.set_meta("faults", {**faults, "lock_next_records": pending - 1})
        elif not (faults.get("lock_rate") and random.random() < float(faults["lock_rate"])):
            return
        raise RecordError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records")

    def _normalise(
        self, obj: SfObject, body: dict[str, Any], *, creating: bool, external: tuple[str, str] | None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        relationships = {f.relationship_name.lower(): f for f in self.fields(obj) if f.relationship_name}
        for key, raw in body.items():
            if key == "attributes":
                continue
            if isinstance(raw, dict) and key.lower() in relationships:
                ref_field = relationships[key.lower()]
                values[ref_field.name] = self._resolve_relationship(ref_field, raw)
                continue
            definition = self.field(obj, key)
            if definition is None:
                raise RecordError("INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key])
            if definition.name == "Id":
                if external is not None or not creating:
                    continue
                raise RecordError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Id.", ["Id"])
            allowed = definition.createable if creating else definition.updateable
            if not allowed and not (
                obj.name == "ContentVersion" and definition.name == "ContentDocumentId" and creating
            ):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: "
                    f"{definition.name}. Please check the security settings of this field and verify "
                    "that it is read/write for your profile or permission set.",
                    [definition.name],
                )
            values[definition.name] = self._coerce(obj, definition, raw)
        return values

    def _resolve_relationship(self, ref_field: SfField, raw: dict[str, Any]) -> str:
        lookups = [(k, v) for k, v in raw.items() if k != "attributes"]
        target_name = raw.get("attributes", {}).get("type") or ref_field.reference_to[0]
        target = self.sobject(target_name)
        if len(lookups) != 1:
            raise RecordError(
                "INVALID_FIELD",
                f"Relationship {ref_field.relationship_name} needs exactly one external id field",
                [ref_field.name],
            )
        ext_name, ext_value = lookups[0]
        matches = self.find_by_external_id(target, ext_name, str(ext_value))
        if not matches:
            raise RecordError(
                "INVALID_FIELD",
                f"Foreign key external ID: {ext_value} not found for field {ext_name} in entity {target.name}",
                [ref_field.name],
            )
        return matches[0]

    def _coerce(self, obj: SfObject, definition: SfField, raw: Any) -> Any:
        if raw is None or (raw == "" and definition.type is not SfType.STRING):
            return None
        kind = definition.type
        name = definition.name
        try:
            if kind is SfType.BOOLEAN:
                if isinstance(raw, str):
                    if raw.lower() not in ("true", "false", "1", "0"):
                        raise ValueError(raw)
                    return raw.lower() in ("true", "1")
                return bool(raw)
            if kind in (SfType.DOUBLE, SfType.CURRENCY, SfType.PERCENT):
                if isinstance(raw, bool):
                    raise ValueError(raw)
                return float(raw)
            if kind is SfType.INT:
                return int(raw)
            if kind is SfType.DATE:
                return date.fromisoformat(str(raw)[:10]).isoformat()
            if kind is SfType.DATETIME:
                text = str(raw).replace("Z", "+00:00")
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        except (TypeError, ValueError) as exc:
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type: {raw}", [name]
            ) from exc
        text = str(raw)
        if kind is SfType.BASE64:
            try:
                base64.b64decode(text, validate=True)
            except binascii.Error as exc:
                raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: invalid base64", [name]) from exc
            return text
        if kind is SfType.REFERENCE:
            full = to_18(text)
            if full is None:
                raise RecordError(
                    "MALFORMED_ID", f"{definition.label or name}: id value of incorrect type: {text}", [name]
                )
            found = self.store.get(full)
            if found is None:
                raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
            if found[0] not in definition.reference_to:
                raise RecordError("FIELD_INTEGRITY_EXCEPTION", f"{name}: id value of incorrect type: {text}", [name])
            return full
        if kind is SfType.PICKLIST and definition.picklist and text not in definition.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{definition.label or name}: bad value for restricted picklist field: {text}",
                [name],
            )
        if kind is SfType.EMAIL and text and not _EMAIL.match(text):
            raise RecordError("INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {text}", [name])
        if (len(text) > definition.length and kind not in (SfType.TEXTAREA,)) or len(text) > 131_072:
            raise RecordError(
                "STRING_TOO_LONG", f"{name}: data value too large: {text[:40]} (max length={definition.length})", [name]
            )
        return text

    def _create(self, obj: SfObject, values: dict[str, Any]) -> str:
        record: dict[str, Any] = {}
        for definition in self.fields(obj):
            if definition.default is not None and definition.createable:
                record[definition.name] = definition.default
        record.update(values)
        self._before_create(obj, record)
        missing = [f.name for f in self.fields(obj) if f.required and record.get(f.name) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        record_id = self._new_id(obj)
        stamp = now_text()
        record.update({"Id": record_id, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp})
        self._claim_unique(obj, record)
        self.store.put(record_id, obj.name, record)
        self._after_write(obj, record, created=True)
        return record_id

    def _update(self, obj: SfObject, existing: dict[str, Any], values: dict[str, Any]) -> None:
        record = {**existing, **values}
        self._before_update(obj, existing, record, values)
        missing = [f.name for f in self.fields(obj) if f.required and f.name in values and values[f.name] in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        stamp = now_text()
        record.update({"LastModifiedDate": stamp, "SystemModstamp": stamp})
        self._claim_unique(obj, record)
        self.store.put(record["Id"], obj.name, record)
        self._after_write(obj, record, created=False)

    def _claim_unique(self, obj: SfObject, record: dict[str, Any]) -> None:
        for definition in self.fields(obj):
            if not definition.unique:
                continue
            value = record.get(definition.name)
            if value not in (None, ""):
                holder = self.store.find_unique(obj.name, definition.name, str(value))
                if holder and holder != record["Id"]:
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {definition.name} duplicates value on record with id: {holder}",
                        [definition.name],
                    )
            self.store.claim_unique(obj.name, definition.name, value, record["Id"])

    # -- the data model's rules ------------------------------------------------------------------

    def _person_record_type(self, record_type_id: str | None) -> bool:
        if not record_type_id:
            return False
        found = self.store.get(record_type_id)
        return bool(found and found[1].get("IsPersonType"))

    def _before_create(self, obj: SfObject, record: dict[str, Any]) -> None:
        if obj.name == "Account" and OrgFeature.PERSON_ACCOUNTS in self.features:
            self._account_kind(record, record)
        elif obj.name == "PricebookEntry":
            self._check_price_entry(record)
        elif obj.name == "Order":
            record["OrderNumber"] = f"{self.store.next_number('order_number', 100):08d}"
            record["TotalAmount"] = 0.0
        elif obj.name == "OrderItem":
            self._check_order_item(record)
        elif obj.name == "ContentVersion":
            self._new_content_version(record)
        elif obj.name == "ContentDocumentLink":
            self._check_document_link(record)

    def _before_update(
        self, obj: SfObject, existing: dict[str, Any], record: dict[str, Any], values: dict[str, Any]
    ) -> None:
        if obj.name == "Account" and OrgFeature.PERSON_ACCOUNTS in self.features:
            self._account_kind(record, values)
        elif obj.name == "Order":
            if (
                "Pricebook2Id" in values
                and values["Pricebook2Id"] != existing.get("Pricebook2Id")
                and any(i["OrderId"] == existing["Id"] for i in self.store.iter_records("OrderItem"))
            ):
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "You can't change the price book of an order that has products.",
                    ["Pricebook2Id"],
                )
        elif obj.name == "OrderItem":
            self._check_order_editable(existing["OrderId"])
            record["TotalPrice"] = round(float(record["Quantity"]) * float(record["UnitPrice"]), 2)

    def _account_kind(self, record: dict[str, Any], written: dict[str, Any]) -> None:
        person = self._person_record_type(record.get("RecordTypeId"))
        record["IsPersonAccount"] = person
        person_fields = [f for f in ("FirstName", "LastName", "PersonEmail", "PersonMobilePhone") if f in written]
        if person:
            if "Name" in written:
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Unable to create/update fields: Name. Please check the security settings of this field.",
                    ["Name"],
                )
            if not record.get("LastName"):
                raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        elif person_fields:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(person_fields)}. These fields belong to person accounts.",
                person_fields,
            )

    def _check_price_entry(self, record: dict[str, Any]) -> None:
        # Both checks go through the unique-value index: a scan per entry would make price loads quadratic.
        book = self.store.get(record["Pricebook2Id"])[1]  # type: ignore[index]
        currency = record.get("CurrencyIsoCode") or "EUR"
        if self.store.find_unique("PricebookEntry", "~entry", _entry_key(record, currency)):
            raise RecordError(
                "DUPLICATE_VALUE",
                "This price definition already exists in this price book",
                ["Pricebook2Id", "Product2Id"],
            )
        if not book.get("IsStandard") and not self.store.find_unique(
            "PricebookEntry", "~standard", f"{record['Product2Id']}|{currency}"
        ):
            raise RecordError(
                "STANDARD_PRICE_NOT_DEFINED", "Before creating a custom price, create a standard price.", []
            )
        product = self.store.get(record["Product2Id"])[1]  # type: ignore[index]
        record["Name"] = product.get("Name")
        record["ProductCode"] = product.get("ProductCode")
        record["~standard"] = bool(book.get("IsStandard"))

    def _check_order_editable(self, order_id: str) -> dict[str, Any]:
        order = self.store.get(order_id)[1]  # type: ignore[index]
        if order.get("Status") == "Activated":
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't add, change or delete products on an activated order.",
                ["OrderId"],
            )
        return order

    def _check_order_item(self, record: dict[str, Any]) -> None:
        order = self._check_order_editable(record["OrderId"])
        if not order.get("Pricebook2Id"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (the order has no price book)",
                ["PricebookEntryId"],
            )
        entry = self.store.get(record["PricebookEntryId"])[1]  # type: ignore[index]
        if entry["Pricebook2Id"] != order["Pricebook2Id"]:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook "
                "entry is in a different pricebook than the one assigned to the order)",
                ["PricebookEntryId"],
            )
        if (entry.get("CurrencyIsoCode") or "EUR") != (order.get("CurrencyIsoCode") or "EUR"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook "
                "entry currency code does not match order currency code)",
                ["PricebookEntryId"],
            )
        record["Product2Id"] = entry["Product2Id"]
        record["TotalPrice"] = round(float(record["Quantity"]) * float(record["UnitPrice"]), 2)

    def _recalculate_order(self, order_id: str) -> None:
        found = self.store.get(order_id)
        if not found:
            return
        order = found[1]
        order["TotalAmount"] = round(
            sum(i.get("TotalPrice") or 0 for i in self.store.iter_records("OrderItem") if i["OrderId"] == order_id), 2
        )
        self.store.put(order_id, "Order", order)

    def _new_content_version(self, record: dict[str, Any]) -> None:
        data = base64.b64decode(record["VersionData"]) if record.get("VersionData") else b""
        record["Checksum"] = hashlib.md5(data).hexdigest()
        record["IsLatest"] = True

    def _check_document_link(self, record: dict[str, Any]) -> None:
        for link in self.store.iter_records("ContentDocumentLink"):
            if (
                link["ContentDocumentId"] == record["ContentDocumentId"]
                and link["LinkedEntityId"] == record["LinkedEntityId"]
            ):
                raise RecordError(
                    "DUPLICATE_VALUE",
                    "Document with ID: "
                    f"{record['ContentDocumentId']} is already linked with the entity with ID: "
                    f"{record['LinkedEntityId']}",
                    ["LinkedEntityId"],
                )

    def _after_write(self, obj: SfObject, record: dict[str, Any], *, created: bool) -> None:
        if obj.name == "PricebookEntry" and created:
            currency = record.get("CurrencyIsoCode") or "EUR"
            self.store.claim_unique("PricebookEntry", "~entry", _entry_key(record, currency), record["Id"])
            if record.pop("~standard", False):
                self.store.claim_unique(
                    "PricebookEntry", "~standard", f"{record['Product2Id']}|{currency}", record["Id"]
                )
            self.store.put(record["Id"], "PricebookEntry", record)
        if obj.name == "OrderItem":
            self._recalculate_order(record["OrderId"])
        if obj.name == "ContentVersion" and created:
            document_id = record.get("ContentDocumentId")
            if document_id:
                for older in list(self.store.iter_records("ContentVersion")):
                    if older["ContentDocumentId"] == document_id and older["Id"] != record["Id"]:
                        self.store.put(older["Id"], "ContentVersion", {**older, "IsLatest": False})
                document = self.store.get(document_id)[1]  # type: ignore[index]
                self.store.put(
                    document_id,
                    "ContentDocument",
                    {**document, "LatestPublishedVersionId": record["Id"], "Title": record["Title"]},
                )
            else:
                document_id = self._insert_raw(
                    "ContentDocument", {"Title": record["Title"], "LatestPublishedVersionId": record["Id"]}
                )
                record["ContentDocumentId"] = document_id
                self.store.put(record["Id"], "ContentVersion", record)
                if record.get("FirstPublishLocationId"):
                    self._insert_raw(
                        "ContentDocumentLink",
                        {
                            "ContentDocumentId": document_id,
                            "ShareType": "V",
                            "LinkedEntityId": record["FirstPublishLocationId"],
                            "Visibility": "AllUsers",
                        },
                    )
        if (
            obj.name == "Account"
            and OrgFeature.PERSON_ACCOUNTS in self.features
            and record.get("IsPersonAccount")
            and created
        ):
            contact_id = self._insert_raw(
                "Contact",
                {
                    "LastName": record["LastName"],
                    "FirstName": record.get("FirstName"),
                    "Email": record.get("PersonEmail"),
                    "AccountId": record["Id"],
                    "IsPersonAccount": True,
                },
            )
            record["PersonContactId"] = contact_id
            self.store.put(record["Id"], "Account", record)

    # -- queries --------------------------------------------------------------------------------

    def query(self, text: str, *, include_deleted: bool = False) -> tuple[soql.Query, SfObject, list[dict[str, Any]]]:
        try:
            parsed = soql.parse(text)
        except soql.MalformedQuery as exc:
            raise RecordError("MALFORMED_QUERY", str(exc)) from exc
        try:
            obj = self.sobject(parsed.sobject)
        except RecordError as exc:
            raise RecordError("INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported.") from exc
        for name in [*parsed.fields, *soql.fields_in(parsed.where), *(o[0] for o in parsed.order_by)]:
            self._resolve_path(obj, name)
        candidates = self._indexed_candidates(obj, parsed.where, include_deleted)
        source = (
            candidates if candidates is not None else self.store.iter_records(obj.name, include_deleted=include_deleted)
        )
        records = [r for r in source if self._matches(obj, parsed, r)]
        for field_name, descending, nulls_last in reversed(parsed.order_by):
            nulls_at_end = nulls_last if nulls_last is not None else descending
            present = [r for r in records if self._value(obj, r, field_name) is not None]
            absent = [r for r in records if self._value(obj, r, field_name) is None]
            present.sort(key=lambda r, f=field_name: soql._normalise(self._value(obj, r, f)), reverse=descending)
            records = present + absent if nulls_at_end else absent + present
        records = records[parsed.offset :]
        if parsed.limit is not None:
            records = records[: parsed.limit]
        return parsed, obj, records

    def _indexed_candidates(self, obj: SfObject, where: Any, include_deleted: bool) -> list[dict[str, Any]] | None:
        """`Id` or a unique field `=` / `IN` a list, alone or ANDed with more: read those records only,
        as Salesforce's own indexes would; anything else scans. The full WHERE is still applied after."""
        conditions = where.parts if isinstance(where, soql.BoolOp) and where.op == "AND" else (where,)
        for cond in conditions:
            values: tuple[Any, ...] | None = None
            if isinstance(cond, soql.Compare) and cond.op == "=" and cond.value is not None:
                values = (cond.value,)
            elif isinstance(cond, soql.InList) and not cond.negate:
                values = cond.values
            if values is None or "." in cond.field:
                continue
            definition = self.field(obj, cond.field)
            if definition is None or not (definition.unique or definition.name == "Id"):
                continue
            found = []
            for value in dict.fromkeys(str(v) for v in values):
                record_id = (
                    to_18(value)
                    if definition.name == "Id"
                    else self.store.find_unique(obj.name, definition.name, value)
                )
                hit = self.store.get_with_flag(record_id) if record_id else None
                if hit and hit[0] == obj.name and (include_deleted or not hit[2]):
                    found.append({**hit[1], "IsDeleted": hit[2]})
            return found
        return None

    def _matches(self, obj: SfObject, parsed: soql.Query, record: dict[str, Any]) -> bool:
        try:
            return soql.evaluate(parsed.where, lambda name: self._value(obj, record, name))
        except soql.MalformedQuery as exc:
            raise RecordError("MALFORMED_QUERY", str(exc)) from exc

    def _resolve_path(self, obj: SfObject, path: str) -> list[SfField]:
        parts = path.split(".")
        if parts[0].lower() == obj.name.lower() and len(parts) > 1:
            parts = parts[1:]
        chain: list[SfField] = []
        current = obj
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                definition = self.field(current, part)
                if definition is None:
                    raise RecordError("INVALID_FIELD", f"No such column '{part}' on entity '{current.name}'.")
                chain.append(definition)
                return chain
            ref = next((f for f in self.fields(current) if (f.relationship_name or "").lower() == part.lower()), None)
            if ref is None:
                raise RecordError("INVALID_FIELD", f"Didn't understand relationship '{part}' in field path.")
            chain.append(ref)
            current = self.sobject(ref.reference_to[0])
        return chain

    def _value(self, obj: SfObject, record: dict[str, Any] | None, path: str) -> Any:
        chain = self._resolve_path(obj, path)
        current = record
        for definition in chain[:-1]:
            if current is None:
                return None
            target = current.get(definition.name)
            found = self.store.get(target) if target else None
            current = found[1] if found else None
        return None if current is None else current.get(chain[-1].name)

    def render(self, obj: SfObject, fields: tuple[str, ...], record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": obj.name, "url": f"/services/data/v{API_VERSION}/sobjects/{obj.name}/{record['Id']}"}
        }
        for path in fields:
            chain = self._resolve_path(obj, path)
            if len(chain) == 1:
                name = chain[0].name
                value = record.get(name)
                if name == "VersionData" and value is not None:
                    value = f"/services/data/v{API_VERSION}/sobjects/ContentVersion/{record['Id']}/VersionData"
                out[name] = value if name != "IsDeleted" else bool(record.get("IsDeleted"))
                continue
            holder, current, current_obj = out, record, obj
            for definition in chain[:-1]:
                target_id = current.get(definition.name) if current else None
                found = self.store.get(target_id) if target_id else None
                relationship = definition.relationship_name or definition.name
                if found is None:
                    holder[relationship] = None
                    break
                current_obj = self.sobject(found[0])
                current = found[1]
                nested = holder.get(relationship) or {
                    "attributes": {
                        "type": current_obj.name,
                        "url": f"/services/data/v{API_VERSION}/sobjects/{current_obj.name}/{current['Id']}",
                    }
                }
                holder[relationship] = nested
                holder = nested
            else:
                holder[chain[-1].name] = current.get(chain[-1].name)
        return out
