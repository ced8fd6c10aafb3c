"""The Salesforce objects afas-sf touches and the custom fields it adds to them, defined once.

Every custom field is prefixed `AFAS_` (or lives on an `AFAS_…__c` object) so the project never
collides with an org's own customisation. These definitions are the metadata users deploy
(`afas-sf metadata`) and the custom part of what the Salesforce sandbox serves. Standard fields are
not defined here: a real org's describe is the truth for them (the engine's preflight and value
checks read it), and the sandbox builds them from the real describes in
`sandbox/salesforce/standard_objects.py`, so a misreading here is never mirrored there.

Some objects exist only with an org feature: Person Accounts, Commerce (catalog, categories,
variations), Shipment (Order Management / Field Service), Field Service inventory, multi-currency.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")


S, BOOL, DBL, DATE, REF, PICK = (
    SfType.STRING,
    SfType.BOOLEAN,
    SfType.DOUBLE,
    SfType.DATE,
    SfType.REFERENCE,
    SfType.PICKLIST,
)


def _ext(name: str, length: int = 80) -> SfField:
    """An upsert key: a unique, case-insensitive External ID text field."""
    return SfField(name, S, length, external_id=True, unique=True, label=name.removesuffix("__c").replace("_", " "))


OBJECTS: dict[str, SfObject] = {
    o.name: o
    for o in (
        SfObject(
            "RecordType",
            "Record Type",
            (),
            createable=False,
            updateable=False,
            key_prefix="012",
        ),
        SfObject(
            "Product2",
            "Product",
            (
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
            (_ext("AFAS_Price_Group__c", 40),),
            key_prefix="01s",
        ),
        SfObject(
            "PricebookEntry",
            "Price Book Entry",
            (
                _ext("AFAS_Price_Key__c", 120),
                SfField("AFAS_Price_Incl_VAT__c", BOOL, default=False),
            ),
            key_prefix="01u",
        ),
        SfObject(
            "Account",
            "Account",
            (
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
            (_ext("AFAS_Contact_Key__c", 40),),
            key_prefix="003",
        ),
        SfObject(
            "Order",
            "Order",
            (
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
        ),
        SfObject(
            "OrderItem",
            "Order Product",
            (_ext("AFAS_Line_Key__c", 80),),
            key_prefix="802",
        ),
        SfObject(
            "ContentVersion",
            "Content Version",
            (_ext("AFAS_Image_Key__c", 80),),
            key_prefix="068",
        ),
        SfObject(
            "ContentDocument",
            "Content Document",
            (),
            createable=False,
            key_prefix="069",
        ),
        SfObject(
            "ContentDocumentLink",
            "Content Document Link",
            (),
            key_prefix="06A",
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
                _ext("AFAS_Delivery_Note__c", 30),
                SfField("AFAS_Order__c", REF, reference_to=("Order",)),
                SfField("AFAS_Account__c", REF, reference_to=("Account",)),
            ),
            feature=OrgFeature.SHIPMENT,
            key_prefix="0OB",
        ),
        SfObject(
            "ShipmentItem",
            "Shipment Item",
            (_ext("AFAS_Line_Key__c", 80),),
            feature=OrgFeature.SHIPMENT,
            key_prefix="0OC",
        ),
        SfObject(
            "ProductCatalog",
            "Catalog",
            (_ext("AFAS_Catalog_Key__c", 40),),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZS",
        ),
        SfObject(
            "ProductCategory",
            "Product Category",
            (_ext("AFAS_Group_Code__c", 15),),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZG",
        ),
        SfObject(
            "ProductCategoryProduct",
            "Product Category Product",
            (_ext("AFAS_Category_Key__c", 80),),
            feature=OrgFeature.COMMERCE,
            key_prefix="0ZH",
        ),
        SfObject(
            "ProductAttribute",
            "Product Attribute",
            (
                SfField("AFAS_Size__c", S, 40),
                SfField("AFAS_Colour__c", S, 40),
                _ext("AFAS_Attribute_Key__c", 40),
            ),
            feature=OrgFeature.COMMERCE,
            key_prefix="0iZ",
        ),
        SfObject(
            "Location",
            "Location",
            (_ext("AFAS_Warehouse__c", 15),),
            feature=OrgFeature.FIELD_SERVICE,
            key_prefix="131",
        ),
        SfObject(
            "ProductItem",
            "Product Item",
            (_ext("AFAS_Stock_Key__c", 60),),
            feature=OrgFeature.FIELD_SERVICE,
            key_prefix="0TS",
        ),
    )
}
