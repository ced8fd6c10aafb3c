"""The sandbox org: records of the project's schema, validated and changed as Salesforce does.

Every write, whether from REST, sObject Collections, composite or Bulk 2.0, goes through `save`, so
each entry point refuses the same things with the same error codes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from afas_sf_assets.salesforce.schema import OrgFeature, SfField, SfObject, SfType
from afas_sf_assets.sandbox.salesforce import soql
from afas_sf_assets.sandbox.salesforce.ids import make_id, to_18
from afas_sf_assets.sandbox.salesforce.standard_objects import API_USER_ID, sandbox_objects
from afas_sf_assets.sandbox.salesforce.store import SfStore

API_VERSION = "62.0"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$")
# Salesforce stores dates and datetimes between these two days only.
_EARLIEST, _LATEST = date(1700, 1, 1), date(4000, 12, 31)
_TEXT_TYPES = (SfType.STRING, SfType.TEXTAREA, SfType.EMAIL, SfType.PHONE, SfType.URL, SfType.PICKLIST)
_NUMBER_TYPES = (SfType.DOUBLE, SfType.CURRENCY, SfType.PERCENT, SfType.INT)
MAX_OFFSET = 2000


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


class RequestRefused(RecordError):
    """The whole request is refused before any record is looked at (a body Salesforce cannot deserialize)."""


def parser_error(definition: SfField, raw: Any, expected: str) -> RequestRefused:
    return RequestRefused(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {expected} from VALUE_STRING value {raw} or request may be missing a "
        f"required field (field {definition.name})",
        [definition.name],
    )


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


def _total_price(item: dict[str, Any]) -> float:
    return round(float(item["Quantity"]) * float(item["UnitPrice"]), 2)


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Org:
    store: SfStore
    features: frozenset[OrgFeature] = field(default_factory=frozenset)

    # -- schema --------------------------------------------------------------------------------

    def objects(self) -> dict[str, SfObject]:
        return sandbox_objects(self.features)

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
        return obj.fields

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
            "deletable": obj.createable,
            "queryable": True,
            "fields": [self._describe_field(f) for f in self.fields(obj)],
            "recordTypeInfos": [
                {"name": r["Name"], "developerName": r["DeveloperName"], "recordTypeId": r["Id"], "available": True}
                for r in self.store.iter_records("RecordType")
                if r["SobjectType"] == obj.name
            ]
            if OrgFeature.PERSON_ACCOUNTS in self.features
            else [],
        }

    @staticmethod
    def _describe_field(f: SfField) -> dict[str, Any]:
        numeric = f.type in _NUMBER_TYPES
        precision, scale = f.digits if numeric else (0, 0)
        return {
            "name": f.name,
            "label": f.label or f.name,
            "type": f.type.value,
            "length": f.length if f.type in _TEXT_TYPES else 0,
            "byteLength": f.length * 3 if f.type in _TEXT_TYPES else 0,
            "precision": precision if f.type is not SfType.INT else 0,
            "scale": scale,
            "digits": precision if f.type is SfType.INT else 0,
            "custom": f.custom,
            "externalId": f.external_id,
            "unique": f.unique,
            "caseSensitive": False,
            "idLookup": f.external_id or f.unique or f.name == "Id",
            "nillable": f.nillable,
            "createable": f.createable,
            "updateable": f.updateable,
            "defaultedOnCreate": f.defaulted_on_create,
            "defaultValue": f.default if f.type in (SfType.BOOLEAN, SfType.PICKLIST) else None,
            "autoNumber": f.defaulted and f.type is SfType.STRING,
            "calculated": False,
            "filterable": not (f.type is SfType.TEXTAREA and f.length > 255) and f.type is not SfType.BASE64,
            "sortable": not (f.type is SfType.TEXTAREA and f.length > 255) and f.type is not SfType.BASE64,
            "referenceTo": list(f.reference_to),
            "relationshipName": f.relationship_name,
            "picklistValues": [
                {"value": v, "label": v, "active": True, "defaultValue": v == f.default} for v in f.picklist
            ],
            "restrictedPicklist": f.type is SfType.PICKLIST and f.restricted_picklist,
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
        obj = self.objects()[sobject]
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
        if full is None:
            raise RecordError(
                "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {record_id}", status=404
            )
        found = self.store.get_with_flag(full)
        if found is None or found[0] != obj.name:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        if found[2]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", status=404)
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
        if obj.name == "Contact" and record.get("IsPersonAccount"):
            raise RecordError("DELETE_FAILED", "A person account's contact is deleted by deleting its account.", ["Id"])
        with self.store.savepoint():
            self.store.mark_deleted(record["Id"])
            if obj.name == "Account" and record.get("PersonContactId"):
                self.store.mark_deleted(record["PersonContactId"])
            if obj.name == "Order":
                for item in self.store.children("OrderItem", "OrderId", record["Id"]):
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
            if not allowed:
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
        """One value as Salesforce stores it, or refused as Salesforce refuses it."""
        kind = definition.type
        if kind is SfType.BOOLEAN:
            # A checkbox is never null: null (or an empty cell) writes false.
            if raw is None or raw == "":
                return False
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
                return raw.lower() in ("true", "1")
            raise parser_error(definition, raw, "boolean")
        if raw is None or raw == "":
            return None
        if isinstance(raw, dict | list):
            token = "START_OBJECT" if isinstance(raw, dict) else "START_ARRAY"
            raise RequestRefused(
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {kind.value} from {token} value (field {definition.name})",
                [definition.name],
            )
        if kind in _NUMBER_TYPES:
            return self._number(definition, raw)
        if kind is SfType.DATE:
            return self._date(definition, raw)
        if kind is SfType.DATETIME:
            return self._datetime(definition, raw)
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise parser_error(definition, raw, "string")
        text = str(raw)
        name = definition.name
        if kind is SfType.BASE64:
            try:
                base64.b64decode(text, validate=True)
            except binascii.Error as exc:
                raise parser_error(definition, "(not base64)", "base64") from exc
            return text
        if kind is SfType.REFERENCE or kind is SfType.ID:
            return self._reference(definition, text)
        if kind is SfType.PICKLIST and definition.restricted_picklist and text not in definition.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{definition.label or name}: bad value for restricted picklist field: {text}",
                [name],
            )
        if kind is SfType.EMAIL and not _EMAIL.match(text):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS", f"{definition.label or name}: invalid email address: {text}", [name]
            )
        if len(text) > definition.length:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{definition.label or name}: data value too large: {text[:40]} (max length={definition.length})",
                [name],
            )
        return text

    @staticmethod
    def _number(definition: SfField, raw: Any) -> Any:
        if isinstance(raw, bool):
            raise parser_error(definition, raw, definition.type.value)
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise parser_error(definition, raw, definition.type.value) from exc
        if not value.is_finite():
            raise parser_error(definition, raw, definition.type.value)
        precision, scale = definition.digits
        rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP) if value.adjusted() < 40 else value
        integer_digits = max(rounded.adjusted() + 1, 0)
        if integer_digits > precision - scale:
            raise RecordError(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{definition.label or definition.name}: value outside of valid range on numeric field: {raw}",
                [definition.name],
            )
        if definition.type is SfType.INT:
            return int(rounded)
        number = float(rounded)
        return number if math.isfinite(number) else None

    @staticmethod
    def _in_range(definition: SfField, day: date, raw: Any) -> None:
        if not _EARLIEST <= day <= _LATEST:
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{definition.label or definition.name}: value not of required type: {raw} "
                "(dates must lie between 1700-01-01 and 4000-12-31)",
                [definition.name],
            )

    def _date(self, definition: SfField, raw: Any) -> str:
        text = str(raw)
        if not isinstance(raw, str) or not _DATE.match(text):
            raise parser_error(definition, raw, "date")
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            raise parser_error(definition, raw, "date") from exc
        self._in_range(definition, day, raw)
        return day.isoformat()

    def _datetime(self, definition: SfField, raw: Any) -> str:
        text = str(raw)
        if not isinstance(raw, str) or not _DATETIME.match(text):
            raise parser_error(definition, raw, "datetime")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise parser_error(definition, raw, "datetime") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        self._in_range(definition, moment.date(), raw)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    def _reference(self, definition: SfField, text: str) -> str:
        name = definition.name
        full = to_18(text)
        if full is None:
            raise RecordError("MALFORMED_ID", f"{definition.label or name}: id value of incorrect type: {text}", [name])
        found = self.store.get(full)
        if found is None and full == API_USER_ID:
            return full
        if found is None:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {definition.label or name}", [name]
            )
        if found[0] not in definition.reference_to:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{definition.label or name}: id value of incorrect type: {text}",
                [name],
            )
        return full

    def _create(self, obj: SfObject, values: dict[str, Any]) -> str:
        record: dict[str, Any] = {}
        for definition in self.fields(obj):
            if definition.default is not None:
                record[definition.name] = definition.default
            elif definition.type is SfType.BOOLEAN:
                record[definition.name] = False
        record.update(values)
        missing = [f.name for f in self.fields(obj) if f.required and record.get(f.name) in (None, "")]
        if missing:
            raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        self._before_create(obj, record)
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

    # -- the data model's rules (the Rules section of salesforce-fields.md) ----------------------------

    def _person_record_type(self, record_type_id: str | None) -> bool:
        if not record_type_id:
            return False
        found = self.store.get(record_type_id)
        return bool(found and found[1].get("IsPersonType"))

    def _before_create(self, obj: SfObject, record: dict[str, Any]) -> None:
        if obj.name == "Account" and OrgFeature.PERSON_ACCOUNTS in self.features:
            self._account_kind(record, record, switching=False)
        elif obj.name == "Account" and not record.get("Name"):
            raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"])
        elif obj.name == "Contact":
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif obj.name == "PricebookEntry":
            self._check_price_entry(record)
        elif obj.name == "Order":
            if record.get("Status") != "Draft":
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    "An order must be created in a Draft status; activate it with an update of Status alone.",
                    ["Status"],
                )
            record["StatusCode"] = "Draft"
            record["OrderNumber"] = f"{self.store.next_number('order_number', 100):08d}"
            record["TotalAmount"] = 0.0
        elif obj.name == "OrderItem":
            self._check_order_item(record)
            record["OrderItemNumber"] = f"{self.store.next_number('order_item_number', 1):010d}"
        elif obj.name == "ContentVersion":
            self._new_content_version(record)
        elif obj.name == "ContentDocumentLink":
            self._check_document_link(record)
        elif obj.name == "ProductCategoryProduct":
            category = self.store.get(record["ProductCategoryId"])[1]  # type: ignore[index]
            record["CatalogId"] = category["CatalogId"]
        elif obj.name == "ProductItem":
            self._check_product_item(record)
            record["ProductItemNumber"] = f"PI-{self.store.next_number('product_item_number', 1):07d}"
        elif obj.name == "Shipment":
            record["ShipmentNumber"] = f"SH-{self.store.next_number('shipment_number', 1):07d}"
        elif obj.name == "ShipmentItem":
            record["ShipmentItemNumber"] = f"SI-{self.store.next_number('shipment_item_number', 1):07d}"
            self._copy_tracking(record)

    def _before_update(
        self, obj: SfObject, existing: dict[str, Any], record: dict[str, Any], values: dict[str, Any]
    ) -> None:
        if obj.name == "Account" and OrgFeature.PERSON_ACCOUNTS in self.features:
            switching = "RecordTypeId" in values and values["RecordTypeId"] != existing.get("RecordTypeId")
            self._account_kind(record, values, switching=switching)
        elif obj.name == "Contact":
            if existing.get("IsPersonAccount"):
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "A person account's contact is changed through its account, not directly.",
                    list(values),
                )
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        elif obj.name == "Pricebook2" and existing.get("IsStandard") and "Name" in values:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "Unable to create/update fields: Name (standard price book).",
                ["Name"],
            )
        elif obj.name == "PricebookEntry":
            self._check_standard_price(record, values)
        elif obj.name == "Order":
            self._check_order_update(existing, record, values)
        elif obj.name == "OrderItem":
            self._check_order_editable(existing["OrderId"])
            record["TotalPrice"] = _total_price(record)
        elif obj.name == "ProductItem":
            self._check_product_item(record)
        elif obj.name == "ContentVersion" and "VersionData" in values and not existing.get("IsLatest"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION", "Only the latest version of a document can be updated.", ["VersionData"]
            )

    def _account_kind(self, record: dict[str, Any], written: dict[str, Any], *, switching: bool) -> None:
        person = self._person_record_type(record.get("RecordTypeId"))
        if switching and set(written) - {"RecordTypeId"}:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "An account's record type cannot change together with other fields in the same call.",
                ["RecordTypeId"],
            )
        record["IsPersonAccount"] = person
        person_fields = [
            f
            for f, v in written.items()
            if (f.startswith("Person") or f in ("FirstName", "LastName", "Salutation")) and v not in (None, False)
        ]
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
            return
        if person_fields and not switching:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(person_fields)}. These fields belong to person accounts.",
                person_fields,
            )
        if not record.get("Name"):
            raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", ["Name"])

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
        self._check_standard_price(record, record, book)
        product = self.store.get(record["Product2Id"])[1]  # type: ignore[index]
        record["Name"] = product.get("Name")
        record["ProductCode"] = product.get("ProductCode")
        record["~standard"] = bool(book.get("IsStandard"))

    def _check_standard_price(
        self, record: dict[str, Any], written: dict[str, Any], book: dict[str, Any] | None = None
    ) -> None:
        if not record.get("UseStandardPrice"):
            return
        book = book or self.store.get(record["Pricebook2Id"])[1]  # type: ignore[index]
        if book.get("IsStandard"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: UseStandardPrice (an entry of the standard price book has no standard "
                "price to use)",
                ["UseStandardPrice"],
            )
        if "UnitPrice" in written:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: UnitPrice (can't set a list price on an entry that uses the standard "
                "price)",
                ["UnitPrice"],
            )

    def _check_order_update(self, existing: dict[str, Any], record: dict[str, Any], values: dict[str, Any]) -> None:
        was_active = existing.get("Status") == "Activated"
        activating = values.get("Status") == "Activated" and not was_active
        changed = [k for k, v in values.items() if existing.get(k) != v and k != "Status"]
        if activating and changed:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "An order is activated by an update of Status alone; other fields changed in the same call: "
                + ", ".join(changed),
                changed,
            )
        locked = [k for k in ("AccountId", "Pricebook2Id", "CurrencyIsoCode") if k in changed]
        if was_active and locked:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"You can't change {', '.join(locked)} on an activated order.",
                locked,
            )
        if "Pricebook2Id" in changed and self.store.children("OrderItem", "OrderId", existing["Id"]):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't change the price book of an order that has products.",
                ["Pricebook2Id"],
            )
        record["StatusCode"] = "Activated" if record.get("Status") == "Activated" else "Draft"
        if activating:
            record["ActivatedDate"] = now_text()
            record["ActivatedById"] = API_USER_ID

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
                "Order Products must have a Price Book Entry that belongs to the Price Book related to the parent "
                "Order.: Price Book Entry ID",
                ["PricebookEntryId"],
            )
        if not entry.get("IsActive"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
                ["PricebookEntryId"],
            )
        if (entry.get("CurrencyIsoCode") or "EUR") != (order.get("CurrencyIsoCode") or "EUR"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook "
                "entry currency code does not match order currency code)",
                ["PricebookEntryId"],
            )
        if record.get("Product2Id") not in (None, entry["Product2Id"]):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: Product2Id (does not match the price book entry's product)",
                ["Product2Id"],
            )
        record["Product2Id"] = entry["Product2Id"]
        record["ListPrice"] = entry.get("UnitPrice")
        if OrgFeature.MULTI_CURRENCY in self.features:
            record["CurrencyIsoCode"] = order.get("CurrencyIsoCode")
        record["TotalPrice"] = _total_price(record)

    def _check_product_item(self, record: dict[str, Any]) -> None:
        location = self.store.get(record["LocationId"])[1]  # type: ignore[index]
        if not location.get("IsInventoryLocation"):
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A product item's location must be an inventory location (IsInventoryLocation).",
                ["LocationId"],
            )
        if record.get("SerialNumber") and float(record.get("QuantityOnHand") or 0) != 1:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION",
                "A serialized product item must have a quantity on hand of 1.",
                ["QuantityOnHand"],
            )

    def _copy_tracking(self, item: dict[str, Any]) -> None:
        shipment = self.store.get(item["ShipmentId"])[1]  # type: ignore[index]
        item["TrackingNumber"] = shipment.get("TrackingNumber")
        item["TrackingUrl"] = shipment.get("TrackingUrl")

    def _recalculate(self, parent_id: str, sobject: str, child: str, link: str, total: str, amount: str) -> None:
        """A parent's roll-up of its children (an order's amount, a shipment's item quantity)."""
        found = self.store.get(parent_id)
        if not found:
            return
        parent = found[1]
        parent[total] = round(sum(i.get(amount) or 0 for i in self.store.children(child, link, parent_id)), 2)
        self.store.put(parent_id, sobject, parent)

    def _recalculate_order(self, order_id: str) -> None:
        self._recalculate(order_id, "Order", "OrderItem", "OrderId", "TotalAmount", "TotalPrice")

    def _new_content_version(self, record: dict[str, Any]) -> None:
        if record.get("VersionData") and not record.get("PathOnClient"):
            raise RecordError("REQUIRED_FIELD_MISSING", "Required fields are missing: [PathOnClient]", ["PathOnClient"])
        data = base64.b64decode(record["VersionData"]) if record.get("VersionData") else b""
        record["Checksum"] = hashlib.md5(data).hexdigest()
        record["ContentSize"] = len(data)
        path = record.get("PathOnClient") or ""
        extension = path.rpartition(".")[2].lower() if "." in path else ""
        record["FileExtension"] = extension or None
        record["FileType"] = {"jpg": "JPG", "jpeg": "JPG", "png": "PNG", "gif": "GIF", "pdf": "PDF"}.get(
            extension, extension.upper() or "UNKNOWN"
        )[:20]
        record["IsLatest"] = True
        if record.get("ContentDocumentId"):
            latest = self.store.get(record["ContentDocumentId"])
            versions = sum(
                1
                for v in self.store.iter_records("ContentVersion")
                if v["ContentDocumentId"] == record["ContentDocumentId"]
            )
            record["VersionNumber"] = str(versions + 1) if latest else "1"
        else:
            record["VersionNumber"] = "1"

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
        if obj.name == "Account" and record.get("IsPersonAccount"):
            self._sync_person_contact(record)
        if obj.name == "ShipmentItem":
            self._recalculate(
                record["ShipmentId"], "Shipment", "ShipmentItem", "ShipmentId", "TotalItemsQuantity", "Quantity"
            )
        if obj.name == "Shipment" and not created:
            for item in self.store.children("ShipmentItem", "ShipmentId", record["Id"]):
                self._copy_tracking(item)
                self.store.put(item["Id"], "ShipmentItem", item)

    def _sync_person_contact(self, account: dict[str, Any]) -> None:
        """A person account's contact is Salesforce's to keep: created with it and changed with it."""
        values = {
            "LastName": account["LastName"],
            "FirstName": account.get("FirstName"),
            "Name": account["Name"],
            "Email": account.get("PersonEmail"),
            "MobilePhone": account.get("PersonMobilePhone"),
            "Phone": account.get("Phone"),
            "AccountId": account["Id"],
            "IsPersonAccount": True,
        }
        contact_id = account.get("PersonContactId")
        found = self.store.get(contact_id) if contact_id else None
        if found is None:
            account["PersonContactId"] = self._insert_raw("Contact", {**values, "OwnerId": API_USER_ID})
            self.store.put(account["Id"], "Account", account)
            return
        contact = found[1]
        if any(contact.get(k) != v for k, v in values.items()):
            stamp = now_text()
            self.store.put(
                contact_id, "Contact", {**contact, **values, "LastModifiedDate": stamp, "SystemModstamp": stamp}
            )

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
        if parsed.offset > MAX_OFFSET:
            raise RecordError("NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        if obj.name == "ContentDocumentLink" and not {f.lower() for f in soql.fields_in(parsed.where)} & {
            "id",
            "contentdocumentid",
            "linkedentityid",
        }:
            raise RecordError(
                "MALFORMED_QUERY",
                "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId "
                "or LinkedEntityId using the equals operator or multiple Id's using the IN operator.",
            )
        parsed = dataclasses.replace(
            parsed, where=soql.map_values(parsed.where, lambda path, value: self._literal(obj, path, value))
        )
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

    def _literal(self, obj: SfObject, path: str, value: Any) -> Any:
        """A WHERE literal checked against its field's type, as the stored value it is compared with."""
        definition = self._resolve_path(obj, path)[-1]
        kind = definition.type
        if value is None:
            return None

        def refuse(expected: str, quoted: bool) -> RecordError:
            how = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
            return RecordError(
                "INVALID_QUERY_FILTER_OPERATOR" if kind in (SfType.ID, SfType.REFERENCE) else "MALFORMED_QUERY",
                f"value of filter criterion for field '{definition.name}' must be of type {expected} and {how}",
            )

        if kind in (SfType.ID, SfType.REFERENCE):
            if not isinstance(value, str):
                raise refuse("id", True)
            full = to_18(value)
            if full is None:
                raise RecordError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}")
            return full
        if kind is SfType.BOOLEAN:
            if not isinstance(value, bool):
                raise refuse("boolean", False)
            return value
        if kind in _NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise refuse("double" if kind is not SfType.INT else "int", False)
            return value
        if kind is SfType.DATE:
            if isinstance(value, datetime) or not isinstance(value, date):
                raise refuse("date", False)
            return value.isoformat()
        if kind is SfType.DATETIME:
            if not isinstance(value, datetime):
                raise refuse("dateTime", False)
            return value.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if not isinstance(value, str):
            raise refuse("string", True)
        return value

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
