"""The Salesforce objects and fields afas-sf reads and writes, defined once.

The same definitions describe what the Salesforce sandbox serves, what the client's preflight checks
in a real org before any data moves, and the custom metadata users deploy. Standard objects list only
the standard fields the project touches; every custom field is prefixed `AFAS_` (or lives on an
`AFAS_…__c` object) so the project never collides with an org's own customisation.

Some objects exist only with an org feature: Person Accounts, Commerce (catalog, categories,
variations), Shipment (Order Management / Field Service), Field Service inventory, multi-currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OrgFeature(StrEnum):
    PERSON_ACCOUNTS = "person_accounts"
    COMMERCE = "commerce"
    SHIPMENT = "shipment"
    FIELD_SERVICE = "field_service"
    MULTI_CURRENCY = "multi_currency"
    STATE_COUNTRY_PICKLISTS = "state_country_picklists"


class SfType(StrEnum):
    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    BOOLEAN = "boolean"
    INT = "int"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    PICKLIST = "picklist"
    REFERENCE = "reference"
    BASE64 = "base64"


# A custom number field's digits and decimals when the schema names none: what `afas-sf metadata` deploys.
_NUMBER_DIGITS = {SfType.INT: (18, 0), SfType.DOUBLE: (18, 3), SfType.CURRENCY: (18, 2), SfType.PERCENT: (18, 2)}


@dataclass(frozen=True)
class SfField:
    """One field as describe reports it. `required`: not nillable and not defaulted, so a create must give it."""

    name: str
    type: SfType = SfType.STRING
    length: int = 255
    required: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    createable: bool = True
    updateable: bool = True
    picklist: tuple[str, ...] = ()
    default: Any = None
    feature: OrgFeature | None = None
    label: str = ""
    precision: int | None = None
    scale: int | None = None
    restricted: bool | None = None  # restrictedPicklist; None: restricted when values are listed
    nil: bool | None = None  # describe's nillable where it is not implied by `required` (e.g. a defaulted field)
    defaulted: bool = False  # defaultedOnCreate by the org itself (owner, auto-number), not by a value here

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c") or self.name.endswith("__pc")

    @property
    def relationship_name(self) -> str | None:
        """`AccountId` → `Account`, `Parent__c` → `Parent__r`."""
        if self.type is not SfType.REFERENCE:
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else self.name

    @property
    def nillable(self) -> bool:
        if self.nil is not None:
            return self.nil
        return not self.required and self.type is not SfType.BOOLEAN

    @property
    def restricted_picklist(self) -> bool:
        return bool(self.picklist) if self.restricted is None else self.restricted

    @property
    def defaulted_on_create(self) -> bool:
        return self.defaulted or self.default is not None or self.type is SfType.BOOLEAN

    @property
    def digits(self) -> tuple[int, int]:
        """(precision, scale) of a number field: total digits and decimals."""
        precision, scale = _NUMBER_DIGITS.get(self.type, (18, 0))
        return (self.precision or precision, scale if self.scale is None else self.scale)


@dataclass(frozen=True)
class SfObject:
    name: str
    label: str
    fields: tuple[SfField, ...]
    feature: OrgFeature | None = None
    createable: bool = True
    updateable: bool = True
    key_prefix: str = "a00"
    has_name: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> SfField | None:
        lowered = name.lower()
        return next((f for f in self.all_fields() if f.name.lower() == lowered), None)

    def all_fields(self, features: frozenset[OrgFeature] | None = None) -> tuple[SfField, ...]:
        system = (
            SfField("Id", SfType.ID, 18, createable=False, updateable=False, label="Record ID"),
            SfField("CreatedDate", SfType.DATETIME, createable=False, updateable=False),
            SfField("LastModifiedDate", SfType.DATETIME, createable=False, updateable=False),
            SfField("SystemModstamp", SfType.DATETIME, createable=False, updateable=False),
            SfField("IsDeleted", SfType.BOOLEAN, createable=False, updateable=False),
        )
        own = tuple(f for f in self.fields if features is None or f.feature is None or f.feature in features)
        return system + own


S, TXT, BOOL, DBL, CUR, DATE, REF, PICK = (
    SfType.STRING,
    SfType.TEXTAREA,
    SfType.BOOLEAN,
    SfType.DOUBLE,
    SfType.CURRENCY,
    SfType.DATE,
    SfType.REFERENCE,
    SfType.PICKLIST,
)
PA, MC = OrgFeature.PERSON_ACCOUNTS, OrgFeature.MULTI_CURRENCY
CURRENCIES = ("EUR", "USD", "GBP")


def _ext(name: str, length: int = 80) -> SfField:
    """An upsert key: a unique, case-insensitive External ID text field."""
    return SfField(name, S, length, external_id=True, unique=True, label=name.removesuffix("__c").replace("_", " "))


def _address(prefix: str, feature: OrgFeature | None = None) -> tuple[SfField, ...]:
    return tuple(
        SfField(f"{prefix}{part}", TXT if part == "Street" else S, feature=feature)
        for part in ("Street", "City", "PostalCode", "Country", "CountryCode")
    )


def _currency() -> SfField:
    return SfField("CurrencyIsoCode", PICK, 3, picklist=CURRENCIES, default="EUR", feature=MC)


OBJECTS: dict[str, SfObject] = {
    o.name: o
    for o in (
        SfObject(
            "RecordType",
            "Record Type",
            (
                SfField("Name", S, required=True),
                SfField("DeveloperName", S, required=True),
                SfField("SobjectType", S, required=True),
                SfField("IsActive", BOOL, default=True),
                SfField("IsPersonType", BOOL, default=False, createable=False, updateable=False),
            ),
            createable=False,
            updateable=False,
            key_prefix="012",
        ),
        SfObject(
            "Product2",
            "Product",
            (
                SfField("Name", S, required=True),
                SfField("ProductCode", S),
                SfField("StockKeepingUnit", S, unique=True),
                SfField("Description", TXT, 4000),
                SfField("Family", PICK),
                SfField("IsActive", BOOL, default=False),
                SfField("QuantityUnitOfMeasure", PICK),
                SfField("DisplayUrl", SfType.URL),
                SfField(
                    "ProductClass",
                    PICK,
                    picklist=("Simple", "VariationParent", "Variation"),
                    default="Simple",
                    feature=OrgFeature.COMMERCE,
                ),
                _ext("AFAS_Item_Code__c", 40),
                SfField("AFAS_Item_Group__c", S, 15),
                SfField("AFAS_Item_Kind__c", PICK, picklist=("simple", "configurable", "variant")),
                SfField("AFAS_Parent_Item__c", REF, reference_to=("Product2",)),
                SfField("AFAS_Short_Description__c", S),
                SfField("AFAS_EAN__c", S, 14),
                SfField("AFAS_Size__c", S, 40),
                SfField("AFAS_Colour__c", S, 40),
                SfField("AFAS_Brand__c", S, 80),
                SfField("AFAS_Material__c", S, 80),
                SfField("AFAS_Weight_Kg__c", DBL),
                SfField("AFAS_Stock__c", DBL),
                SfField("AFAS_Manage_Stock__c", BOOL, default=False),
                SfField("AFAS_Stock_Updated__c", SfType.DATETIME),
            ),
            key_prefix="01t",
        ),
        SfObject(
            "Pricebook2",
            "Price Book",
            (
                SfField("Name", S, required=True),
                SfField("IsActive", BOOL, default=False),
                SfField("IsStandard", BOOL, default=False, createable=False, updateable=False),
                SfField("Description", TXT),
                _ext("AFAS_Price_Group__c", 40),
            ),
            key_prefix="01s",
        ),
        SfObject(
            "PricebookEntry",
            "Price Book Entry",
            (
                SfField("Pricebook2Id", REF, required=True, reference_to=("Pricebook2",), updateable=False),
                SfField("Product2Id", REF, required=True, reference_to=("Product2",), updateable=False),
                SfField("UnitPrice", CUR, required=True),
                SfField("IsActive", BOOL, default=False),
                SfField("UseStandardPrice", BOOL, default=False),
                SfField("Name", S, createable=False, updateable=False),
                SfField("ProductCode", S, createable=False, updateable=False),
                _currency(),
                _ext("AFAS_Price_Key__c", 120),
                SfField("AFAS_Price_Incl_VAT__c", BOOL, default=False),
            ),
            key_prefix="01u",
            has_name=False,
        ),
        SfObject(
            "Account",
            "Account",
            (
                SfField("Name", S, required=True),
                SfField("AccountNumber", S, 40),
                SfField("Phone", SfType.PHONE),
                SfField("Website", SfType.URL),
                SfField("Type", PICK),
                *_address("Billing"),
                *_address("Shipping"),
                SfField("RecordTypeId", REF, reference_to=("RecordType",), feature=PA),
                SfField("IsPersonAccount", BOOL, createable=False, updateable=False, feature=PA),
                SfField("FirstName", S, 40, feature=PA),
                SfField("LastName", S, 80, feature=PA),
                SfField("PersonEmail", SfType.EMAIL, feature=PA),
                SfField("PersonMobilePhone", SfType.PHONE, feature=PA),
                SfField(
                    "PersonContactId", REF, reference_to=("Contact",), createable=False, updateable=False, feature=PA
                ),
                *_address("PersonMailing", PA),
                _currency(),
                _ext("AFAS_Debtor_Id__c", 16),
                SfField("AFAS_Email__c", SfType.EMAIL),
                SfField("AFAS_VAT_Number__c", S, 40),
                SfField("AFAS_CoC_Number__c", S, 40),
                SfField("AFAS_Payment_Condition__c", S, 40),
                SfField("AFAS_Price_Group__c", S, 40),
                SfField("AFAS_Blocked__c", BOOL, default=False),
            ),
            key_prefix="001",
        ),
        SfObject(
            "Contact",
            "Contact",
            (
                SfField("LastName", S, 80, required=True),
                SfField("FirstName", S, 40),
                SfField("Email", SfType.EMAIL),
                SfField("Phone", SfType.PHONE),
                SfField("MobilePhone", SfType.PHONE),
                SfField("AccountId", REF, reference_to=("Account",)),
                *_address("Mailing"),
                SfField("IsPersonAccount", BOOL, createable=False, updateable=False, feature=PA),
                _ext("AFAS_Contact_Key__c", 40),
            ),
            key_prefix="003",
            has_name=False,
        ),
        SfObject(
            "Order",
            "Order",
            (
                SfField("AccountId", REF, required=True, reference_to=("Account",)),
                SfField("EffectiveDate", DATE, required=True),
                SfField("Status", PICK, required=True, picklist=("Draft", "Activated")),
                SfField("Pricebook2Id", REF, reference_to=("Pricebook2",)),
                SfField("OrderNumber", S, 30, createable=False, updateable=False),
                SfField("Description", TXT),
                SfField("Type", PICK),
                SfField("PoNumber", S, 80),
                SfField("TotalAmount", CUR, createable=False, updateable=False),
                *_address("Billing"),
                *_address("Shipping"),
                _currency(),
                _ext("AFAS_Order_Key__c", 60),
                SfField(
                    "AFAS_Document_Type__c",
                    PICK,
                    picklist=("quote", "order", "invoice", "direct_invoice", "financial_mutation"),
                ),
                SfField("AFAS_Order_Number__c", S, 30),
                SfField("AFAS_Status__c", S, 40),
                SfField("AFAS_Invoice_Number__c", S, 30),
                SfField("AFAS_Payment_Condition__c", S, 40),
                SfField("AFAS_Payment_Method__c", S, 40),
                SfField("AFAS_Origin__c", PICK, picklist=("afas", "salesforce")),
            ),
            key_prefix="801",
            has_name=False,
        ),
        SfObject(
            "OrderItem",
            "Order Product",
            (
                SfField("OrderId", REF, required=True, reference_to=("Order",), updateable=False),
                SfField("PricebookEntryId", REF, required=True, reference_to=("PricebookEntry",), updateable=False),
                SfField("Product2Id", REF, reference_to=("Product2",), createable=False, updateable=False),
                SfField("Quantity", DBL, required=True),
                SfField("UnitPrice", CUR, required=True),
                SfField("Description", S),
                SfField("TotalPrice", CUR, createable=False, updateable=False),
                _ext("AFAS_Line_Key__c", 80),
            ),
            key_prefix="802",
            has_name=False,
        ),
        SfObject(
            "ContentVersion",
            "Content Version",
            (
                SfField("Title", S, required=True),
                SfField("PathOnClient", S, 500, required=True),
                SfField("VersionData", SfType.BASE64, required=True, updateable=False),
                SfField(
                    "ContentDocumentId", REF, reference_to=("ContentDocument",), createable=False, updateable=False
                ),
                SfField("FirstPublishLocationId", REF, reference_to=("Product2", "Account"), updateable=False),
                SfField("IsLatest", BOOL, createable=False, updateable=False),
                SfField("Checksum", S, createable=False, updateable=False),
                _ext("AFAS_Image_Key__c", 80),
            ),
            key_prefix="068",
        ),
        SfObject(
            "ContentDocument",
            "Content Document",
            (
                SfField("Title", S),
                SfField(
                    "LatestPublishedVersionId",
                    REF,
                    reference_to=("ContentVersion",),
                    createable=False,
                    updateable=False,
                ),
            ),
            createable=False,
            key_prefix="069",
        ),
        SfObject(
            "ContentDocumentLink",
            "Content Document Link",
            (
                SfField("ContentDocumentId", REF, required=True, reference_to=("ContentDocument",), updateable=False),
                SfField(
                    "LinkedEntityId",
                    REF,
                    required=True,
                    reference_to=("Product2", "Account", "Order"),
                    updateable=False,
                ),
                SfField("ShareType", PICK, picklist=("V", "C", "I"), default="V"),
                SfField("Visibility", PICK, picklist=("AllUsers", "InternalUsers", "SharedUsers"), default="AllUsers"),
            ),
            key_prefix="06A",
            has_name=False,
        ),
        SfObject(
            "AFAS_Product_Relation__c",
            "Product Relation (AFAS)",
            (
                SfField("Name", S, 80),
                _ext("AFAS_Relation_Key__c", 120),
                SfField("Product__c", REF, required=True, reference_to=("Product2",)),
                SfField("Related_Product__c", REF, required=True, reference_to=("Product2",)),
                SfField("Relation_Type__c", PICK, required=True, picklist=("cross_sell", "up_sell", "related")),
                SfField("Sort_Order__c", DBL),
            ),
            key_prefix="a01",
        ),
        SfObject(
            "AFAS_Shipment__c",
            "Shipment (AFAS)",
            (
                SfField("Name", S, 80),
                _ext("AFAS_Delivery_Note__c", 30),
                SfField("Order__c", REF, reference_to=("Order",)),
                SfField("Account__c", REF, reference_to=("Account",)),
                SfField("Carrier__c", S, 40),
                SfField("Tracking_Number__c", S, 80),
                SfField("Tracking_Url__c", SfType.URL),
                SfField("Delivery_Date__c", DATE),
                SfField("Status__c", S, 40),
            ),
            key_prefix="a02",
        ),
        SfObject(
            "AFAS_Shipment_Line__c",
            "Shipment Line (AFAS)",
            (
                SfField("Name", S, 80),
                _ext("AFAS_Line_Key__c", 80),
                SfField("Shipment__c", REF, required=True, reference_to=("AFAS_Shipment__c",)),
                SfField("Product__c", REF, reference_to=("Product2",)),
                SfField("Order_Product__c", REF, reference_to=("OrderItem",)),
                SfField("Quantity__c", DBL),
            ),
            key_prefix="a03",
        ),
        SfObject(
            "Shipment",
            "Shipment",
            (
                SfField("ShipToName", S, required=True),
                SfField("Provider", PICK, picklist=("PostNL", "DHL", "DPD", "UPS", "GLS", "FedEx", "Other")),
                SfField("TrackingNumber", S),
                SfField("TrackingUrl", SfType.URL),
                SfField("ActualDeliveryDate", SfType.DATETIME),
                SfField("Status", PICK, picklist=("Shipped", "Delivered")),
                _ext("AFAS_Delivery_Note__c", 30),
                SfField("AFAS_Order__c", REF, reference_to=("Order",)),
                SfField("AFAS_Account__c", REF, reference_to=("Account",)),
            ),
            feature=OrgFeature.SHIPMENT,
            key_prefix="0OB",
            has_name=False,
        ),
        SfObject(
            "ShipmentItem",
            "Shipment Item",
            (
                SfField("ShipmentId", REF, required=True, reference_to=("Shipment",)),
                SfField("Quantity", DBL, required=True),
                SfField("Product2Id", REF, reference_to=("Product2",)),
                SfField("OrderItemId", REF, reference_to=("OrderItem",)),
                _ext("AFAS_Line_Key__c", 80),
            ),
            feature=OrgFeature.SHIPMENT,
            key_prefix="0OC",
            has_name=False,
        ),
        SfObject(
            "ProductCatalog",
            "Catalog",
            (
                SfField("Name", S, required=True),
                _ext("AFAS_Catalog_Key__c", 40),
            ),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZS",
        ),
        SfObject(
            "ProductCategory",
            "Product Category",
            (
                SfField("Name", S, required=True),
                SfField("CatalogId", REF, required=True, reference_to=("ProductCatalog",)),
                SfField("ParentCategoryId", REF, reference_to=("ProductCategory",)),
                SfField("Description", TXT),
                SfField("SortOrder", SfType.INT),
                _ext("AFAS_Group_Code__c", 15),
            ),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZG",
        ),
        SfObject(
            "ProductCategoryProduct",
            "Product Category Product",
            (
                SfField("ProductCategoryId", REF, required=True, reference_to=("ProductCategory",)),
                SfField("ProductId", REF, required=True, reference_to=("Product2",)),
                SfField("IsPrimaryCategory", BOOL, default=False),
                _ext("AFAS_Category_Key__c", 80),
            ),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZH",
            has_name=False,
        ),
        SfObject(
            "ProductAttribute",
            "Product Attribute",
            (
                SfField("ProductId", REF, required=True, reference_to=("Product2",)),
                SfField("VariantParentId", REF, required=True, reference_to=("Product2",)),
                SfField("Sequence", SfType.INT),
                SfField("AFAS_Size__c", S, 40),
                SfField("AFAS_Colour__c", S, 40),
                _ext("AFAS_Attribute_Key__c", 40),
            ),
            feature=OrgFeature.COMMERCE,
            key_prefix="0iZ",
            has_name=False,
        ),
        SfObject(
            "Location",
            "Location",
            (
                SfField("Name", S, required=True),
                SfField("LocationType", PICK, required=True, picklist=("Warehouse", "Site")),
                SfField("IsInventoryLocation", BOOL, default=False),
                _ext("AFAS_Warehouse__c", 15),
            ),
            feature=OrgFeature.FIELD_SERVICE,
            key_prefix="131",
        ),
        SfObject(
            "ProductItem",
            "Product Item",
            (
                SfField("Product2Id", REF, required=True, reference_to=("Product2",), updateable=False),
                SfField("LocationId", REF, required=True, reference_to=("Location",), updateable=False),
                SfField("QuantityOnHand", DBL, required=True),
                _ext("AFAS_Stock_Key__c", 60),
            ),
            feature=OrgFeature.FIELD_SERVICE,
            key_prefix="0TS",
            has_name=False,
        ),
    )
}


def objects_for(features: frozenset[OrgFeature]) -> dict[str, SfObject]:
    return {name: obj for name, obj in OBJECTS.items() if obj.feature is None or obj.feature in features}
