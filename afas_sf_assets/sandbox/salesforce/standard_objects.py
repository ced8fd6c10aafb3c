"""The sandbox org's standard objects, as a real org's describe reports them.

Transcribed from `shared/reference/salesforce-fields.md` (real describes and Salesforce's Object and
Field Reference), not from the client's schema module, so that a misreading on one side is not
mirrored on the other. Only the project's own `AFAS_` custom fields and `AFAS_…__c` objects come from
`afas_sf_assets.salesforce.schema`, where they are defined once.

Where the reference says "unsure", the decision taken here is noted beside the field:
- Product2.ProductClass: the reference reads it as read-only, yet Commerce product imports set it when
  a variation parent or variation is created; here it is create-only (refused on update).
- Product2.StockKeepingUnit: unique, as the SKU is Commerce's product key; length 180.
- Product2.Family / QuantityUnitOfMeasure, Account.Type: picklists of length 255 (v67), not restricted.
- OrderItem.UnitPrice: describe says nillable, but an order product without a price is refused
  (REQUIRED_FIELD_MISSING), so the sandbox asks for it on create.
- OrderItem from an inactive price book entry: refused (FIELD_INTEGRITY_EXCEPTION), as Salesforce
  refuses inactive entries for opportunity products; no source confirms it for order products.
- Order.AccountId: describe says nillable; the Object Reference says required; required on create.
- Order.StatusCode: Draft, Activated, Canceled, Expired (the four-org describe), derived from Status.
- PricebookEntry.UseStandardPrice on standard-price-book entries: false is accepted, true is refused
  (a standard entry has no standard price to use).
- ProductCategory.IsNavigational: defaults to false (describe and Object Reference v67).
- ContentDocumentLink.ShareType: required, as the Object Reference says; Visibility defaults to AllUsers.
- Location.LocationType: required with no default; the shipped values are not restricted.
- Shipment.Provider / Status: shipped values FedEx, UPS, USPS / Shipped, Delivered; not restricted,
  since an admin adds carriers (PostNL, DHL, …) to the picklist.
- …CountryCode / …StateCode: only with the `state_country_picklists` org feature; country codes are
  ISO 3166-1 alpha-2 (every code enabled, as an org that turned the feature on has them).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib import resources

from afas_sf_assets.salesforce.declared import project_objects
from afas_sf_assets.salesforce.schema import OrgFeature, SfField, SfObject, SfType

S, TXT, EMAIL, PHONE, URL = SfType.STRING, SfType.TEXTAREA, SfType.EMAIL, SfType.PHONE, SfType.URL
BOOL, INT, DBL, CUR, DATE, DT = SfType.BOOLEAN, SfType.INT, SfType.DOUBLE, SfType.CURRENCY, SfType.DATE, SfType.DATETIME
PICK, REF, B64 = SfType.PICKLIST, SfType.REFERENCE, SfType.BASE64
PA, MC, SCP = OrgFeature.PERSON_ACCOUNTS, OrgFeature.MULTI_CURRENCY, OrgFeature.STATE_COUNTRY_PICKLISTS
COMMERCE = OrgFeature.COMMERCE

API_USER_ID = "005Z00000000001AAA"
CURRENCIES = ("EUR", "USD", "GBP")


@cache
def country_codes() -> tuple[str, ...]:
    """ISO 3166-1 alpha-2, from the tz database's own table (shipped with `tzdata`)."""
    text = resources.files("tzdata").joinpath("zoneinfo/iso3166.tab").read_text()
    return tuple(sorted(line.split("\t")[0] for line in text.splitlines() if line and not line.startswith("#")))


def _text(name: str, length: int, kind: SfType = S, **flags: object) -> SfField:
    return SfField(name, kind, length, **flags)  # type: ignore[arg-type]


def _number(name: str, kind: SfType, precision: int, scale: int, **flags: object) -> SfField:
    return SfField(name, kind, 0, precision=precision, scale=scale, **flags)  # type: ignore[arg-type]


def _ref(name: str, *to: str, **flags: object) -> SfField:
    return SfField(name, REF, 18, reference_to=to, **flags)  # type: ignore[arg-type]


def _flag(name: str, *, default: bool = False, **flags: object) -> SfField:
    return SfField(name, BOOL, 0, default=default, **flags)  # type: ignore[arg-type]


def _read_only(field: SfField) -> SfField:
    return replace(field, createable=False, updateable=False, required=False)


def _owner() -> SfField:
    return _ref("OwnerId", "User", nil=False, defaulted=True, default=API_USER_ID)


def _address(prefix: str, *, street_length: int = 255) -> tuple[SfField, ...]:
    return (
        _text(f"{prefix}Street", street_length, TXT),
        _text(f"{prefix}City", 40),
        _text(f"{prefix}State", 80),
        _text(f"{prefix}PostalCode", 20),
        _text(f"{prefix}Country", 80),
        SfField(f"{prefix}CountryCode", PICK, 255, picklist=country_codes(), feature=SCP),
        SfField(f"{prefix}StateCode", PICK, 255, restricted=False, feature=SCP),
        _number(f"{prefix}Latitude", DBL, 18, 15),
        _number(f"{prefix}Longitude", DBL, 18, 15),
    )


def _currency(*, updateable: bool = True, createable: bool = True) -> SfField:
    return SfField(
        "CurrencyIsoCode",
        PICK,
        3,
        picklist=CURRENCIES,
        default="EUR",
        createable=createable,
        updateable=updateable,
        feature=MC,
    )


_SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")

# Every object has these; all are read-only.
SYSTEM_FIELDS = (
    SfField("Id", SfType.ID, 18, createable=False, updateable=False, label="Record ID", nil=False),
    SfField("CreatedDate", DT, 0, createable=False, updateable=False, nil=False, defaulted=True),
    SfField("LastModifiedDate", DT, 0, createable=False, updateable=False, nil=False, defaulted=True),
    SfField("SystemModstamp", DT, 0, createable=False, updateable=False, nil=False, defaulted=True),
    SfField("IsDeleted", BOOL, 0, createable=False, updateable=False),
)

STANDARD_FIELDS: dict[str, tuple[SfField, ...]] = {
    "Account": (
        _text("Name", 255, required=True),
        _ref("RecordTypeId", "RecordType", feature=PA),
        SfField("Type", PICK, 255, restricted=False),
        _text("AccountNumber", 40),
        _text("Phone", 40, PHONE),
        _text("Fax", 40, PHONE),
        _text("Website", 255, URL),
        SfField("Industry", PICK, 255, restricted=False),
        _text("Description", 32000, TXT),
        *_address("Billing"),
        *_address("Shipping"),
        _ref("ParentId", "Account"),
        _owner(),
        _text("Site", 80),
        _text("Sic", 20),
        SfField("AccountSource", PICK, 255, restricted=False),
        _number("NumberOfEmployees", INT, 8, 0),
        _number("AnnualRevenue", CUR, 18, 0),
        _currency(),
        _read_only(_flag("IsPersonAccount", feature=PA)),
        _read_only(_ref("PersonContactId", "Contact", feature=PA)),
        _text("FirstName", 40, feature=PA),
        _text("LastName", 80, feature=PA),
        SfField("Salutation", PICK, 40, picklist=_SALUTATIONS, restricted=False, feature=PA),
        _text("PersonEmail", 80, EMAIL, feature=PA),
        _text("PersonMobilePhone", 40, PHONE, feature=PA),
        _text("PersonHomePhone", 40, PHONE, feature=PA),
        _text("PersonOtherPhone", 40, PHONE, feature=PA),
        *(replace(f, feature=f.feature or PA) for f in _address("PersonMailing")),
        SfField("PersonBirthdate", DATE, 0, feature=PA),
        _text("PersonTitle", 80, feature=PA),
        _text("PersonDepartment", 80, feature=PA),
        _flag("PersonHasOptedOutOfEmail", feature=PA),
        _flag("PersonDoNotCall", feature=PA),
    ),
    "Contact": (
        _ref("AccountId", "Account"),
        _text("LastName", 80, required=True),
        _text("FirstName", 40),
        SfField("Salutation", PICK, 40, picklist=_SALUTATIONS, restricted=False),
        _read_only(_text("Name", 121, nil=False)),
        _text("Email", 80, EMAIL),
        _text("Phone", 40, PHONE),
        _text("MobilePhone", 40, PHONE),
        _text("HomePhone", 40, PHONE),
        _text("OtherPhone", 40, PHONE),
        _text("Fax", 40, PHONE),
        _text("Title", 128),
        _text("Department", 80),
        *_address("Mailing"),
        *_address("Other"),
        SfField("Birthdate", DATE, 0),
        _text("Description", 32000, TXT),
        SfField("LeadSource", PICK, 255, restricted=False),
        _ref("ReportsToId", "Contact"),
        _owner(),
        _read_only(_flag("IsPersonAccount", feature=PA)),
        _currency(),
    ),
    "Product2": (
        _text("Name", 255, required=True),
        _text("ProductCode", 255),
        _text("Description", 4000, TXT),
        _flag("IsActive"),
        SfField("Family", PICK, 255, picklist=("None",), restricted=False),
        _text("StockKeepingUnit", 180, unique=True),
        SfField("QuantityUnitOfMeasure", PICK, 255, picklist=("Each",), restricted=False),
        _text("ExternalId", 255),
        _text("DisplayUrl", 1000, URL),
        SfField("Type", PICK, 40, picklist=("Base", "Bundle", "Set"), updateable=False, feature=COMMERCE),
        SfField(
            "ProductClass",
            PICK,
            40,
            picklist=("Simple", "VariationParent", "Variation", "Bundle", "Set"),
            default="Simple",
            nil=False,
            updateable=False,
            feature=COMMERCE,
        ),
        _read_only(_flag("IsArchived")),
        _currency(),
    ),
    "Pricebook2": (
        _text("Name", 255, required=True),
        _text("Description", 255),
        _flag("IsActive"),
        _read_only(_flag("IsStandard")),
        _read_only(_flag("IsArchived")),
        SfField("ValidFrom", DT, 0),
        SfField("ValidTo", DT, 0),
        _currency(),
    ),
    "PricebookEntry": (
        _ref("Pricebook2Id", "Pricebook2", required=True, updateable=False),
        _ref("Product2Id", "Product2", required=True, updateable=False),
        _number("UnitPrice", CUR, 18, 2, required=True),
        _flag("IsActive"),
        _flag("UseStandardPrice"),
        _read_only(_text("Name", 255)),
        _read_only(_text("ProductCode", 255)),
        _read_only(_flag("IsArchived")),
        _currency(updateable=False),
    ),
    "Order": (
        _ref("AccountId", "Account", required=True, nil=True),
        SfField("Status", PICK, 100, picklist=("Draft", "Activated"), required=True),
        _read_only(SfField("StatusCode", PICK, 40, picklist=("Draft", "Activated", "Canceled", "Expired"), nil=False)),
        SfField("EffectiveDate", DATE, 0, required=True),
        SfField("EndDate", DATE, 0),
        _ref("Pricebook2Id", "Pricebook2"),
        _read_only(_text("OrderNumber", 30, nil=False, defaulted=True)),
        _text("Name", 80),
        SfField("Type", PICK, 255, restricted=False),
        _text("Description", 32000, TXT),
        _text("PoNumber", 80),
        SfField("PoDate", DATE, 0),
        _text("OrderReferenceNumber", 80),
        *_address("Billing"),
        *_address("Shipping"),
        _ref("BillToContactId", "Contact"),
        _ref("ShipToContactId", "Contact"),
        _owner(),
        _currency(),
        _read_only(_number("TotalAmount", CUR, 18, 2, nil=False)),
        _read_only(SfField("ActivatedDate", DT, 0)),
        _read_only(_ref("ActivatedById", "User")),
        _flag("IsReductionOrder", updateable=False),
        _ref("OriginalOrderId", "Order", updateable=False),
    ),
    "OrderItem": (
        _ref("OrderId", "Order", required=True, updateable=False),
        _ref("PricebookEntryId", "PricebookEntry", required=True, updateable=False),
        _ref("Product2Id", "Product2", updateable=False),
        _number("Quantity", DBL, 18, 2, required=True),
        _number("UnitPrice", CUR, 18, 2, required=True, nil=True),
        _number("ListPrice", CUR, 18, 2, updateable=False),
        _read_only(_number("TotalPrice", CUR, 18, 2)),
        SfField("ServiceDate", DATE, 0),
        SfField("EndDate", DATE, 0),
        _text("Description", 255),
        _read_only(_text("OrderItemNumber", 30, nil=False, defaulted=True)),
        _ref("OriginalOrderItemId", "OrderItem", updateable=False),
        _read_only(_number("AvailableQuantity", DBL, 18, 2)),
        _read_only(_currency()),
    ),
    "ContentVersion": (
        _text("Title", 255, required=True),
        _text("PathOnClient", 500, updateable=False),
        SfField("VersionData", B64, 0),
        _ref("ContentDocumentId", "ContentDocument", updateable=False, nil=False),
        _ref("FirstPublishLocationId", "Product2", "Account", "Order", updateable=False),
        _text("Description", 1000, TXT),
        _text("ReasonForChange", 1000),
        SfField("ContentLocation", PICK, 40, picklist=("S", "E", "L"), default="S", updateable=False),
        SfField("Origin", PICK, 40, picklist=("C", "H"), default="C", updateable=False),
        SfField("SharingOption", PICK, 40, picklist=("A", "R"), default="A"),
        SfField("SharingPrivacy", PICK, 40, picklist=("N", "P"), default="N"),
        _read_only(SfField("PublishStatus", PICK, 40, picklist=("U", "P", "R"), default="U", nil=False)),
        _flag("IsMajorVersion", updateable=False),
        _owner(),
        _text("ContentUrl", 1333, URL),
        _read_only(_text("FileType", 20, nil=False)),
        _read_only(_text("FileExtension", 40)),
        _read_only(_number("ContentSize", INT, 9, 0)),
        _read_only(_text("Checksum", 50)),
        _read_only(_text("VersionNumber", 20)),
        _read_only(_flag("IsLatest")),
        _text("TagCsv", 2000, TXT),
    ),
    # Not in the reference: the document behind versions, created by Salesforce, never by a client.
    "ContentDocument": (
        SfField("Title", S, 255, createable=False, nil=False),
        _read_only(_ref("LatestPublishedVersionId", "ContentVersion")),
        _read_only(_text("FileType", 20)),
    ),
    "ContentDocumentLink": (
        _ref("ContentDocumentId", "ContentDocument", required=True, updateable=False),
        _ref("LinkedEntityId", "Product2", "Account", "Order", required=True, updateable=False),
        SfField("ShareType", PICK, 40, picklist=("V", "C", "I"), required=True),
        SfField("Visibility", PICK, 40, picklist=("AllUsers", "InternalUsers", "SharedUsers"), default="AllUsers"),
    ),
    "Shipment": (
        _text("ShipToName", 255, required=True),
        _read_only(_text("ShipmentNumber", 255, nil=False, defaulted=True)),
        SfField("Status", PICK, 40, picklist=("Shipped", "Delivered"), restricted=False, default="Shipped"),
        SfField("Provider", PICK, 40, picklist=("FedEx", "UPS", "USPS"), restricted=False, default="FedEx"),
        _text("TrackingNumber", 255),
        _text("TrackingUrl", 255, URL),
        SfField("ExpectedDeliveryDate", DT, 0),
        SfField("ActualDeliveryDate", DT, 0),
        _text("ShipToStreet", 255, TXT),
        _text("ShipToCity", 40),
        _text("ShipToState", 80),
        _text("ShipToPostalCode", 20),
        _text("ShipToCountry", 80),
        _text("Description", 32000, TXT),
        _read_only(_number("TotalItemsQuantity", DBL, 18, 2)),
        _owner(),
    ),
    "ShipmentItem": (
        _ref("ShipmentId", "Shipment", required=True, updateable=False),
        _number("Quantity", DBL, 18, 2, required=True),
        _ref("Product2Id", "Product2"),
        _text("Description", 255),
        _read_only(_text("ShipmentItemNumber", 255, nil=False, defaulted=True)),
        _read_only(_text("TrackingNumber", 255)),
        _read_only(_text("TrackingUrl", 255, URL)),
    ),
    # Not in the reference: the catalog a category belongs to (Commerce), a name and nothing more.
    "ProductCatalog": (_text("Name", 255, required=True),),
    "ProductCategory": (
        _text("Name", 200, required=True),
        _ref("CatalogId", "ProductCatalog", required=True, updateable=False),
        _ref("ParentCategoryId", "ProductCategory"),
        _text("Description", 255, TXT),
        _flag("IsNavigational"),
        _number("SortOrder", INT, 9, 0),
        _read_only(_number("NumberOfProducts", INT, 9, 0)),
    ),
    "ProductCategoryProduct": (
        _ref("ProductCategoryId", "ProductCategory", required=True, updateable=False),
        _ref("ProductId", "Product2", required=True, updateable=False),
        _read_only(_ref("CatalogId", "ProductCatalog", nil=False)),
        _flag("IsPrimaryCategory"),
    ),
    # Not in the reference: a variation's attribute set; the attribute values are custom fields on it.
    "ProductAttribute": (
        _ref("ProductId", "Product2", required=True, updateable=False),
        _ref("VariantParentId", "Product2", required=True),
        _number("Sequence", INT, 9, 0),
    ),
    "Location": (
        _text("Name", 255, required=True),
        SfField(
            "LocationType",
            PICK,
            40,
            picklist=("Warehouse", "Site", "Van", "Plant", "Virtual"),
            restricted=False,
            required=True,
        ),
        _flag("IsInventoryLocation"),
        _flag("IsMobile"),
        _text("Description", 255),
        _text("ExternalReference", 255),
        _ref("ParentLocationId", "Location"),
        _number("Latitude", DBL, 18, 15),
        _number("Longitude", DBL, 18, 15),
        SfField("OpenDate", DATE, 0),
        SfField("CloseDate", DATE, 0),
        _owner(),
        _flag("ShouldSyncWithOci"),
    ),
    "ProductItem": (
        _ref("LocationId", "Location", required=True, updateable=False),
        _ref("Product2Id", "Product2", required=True, updateable=False),
        _number("QuantityOnHand", DBL, 18, 2, required=True),
        SfField("QuantityUnitOfMeasure", PICK, 40, picklist=("Each",), restricted=False),
        _text("SerialNumber", 80),
        _read_only(_text("ProductItemNumber", 255, nil=False, defaulted=True)),
        _read_only(_text("ProductName", 255)),
        _read_only(_flag("IsProduct2Serialized")),
        _owner(),
    ),
    "RecordType": (
        _text("Name", 80, required=True),
        _text("DeveloperName", 80, required=True),
        SfField("SobjectType", PICK, 40, picklist=("Account",), required=True, updateable=False),
        _flag("IsActive", createable=False),
        _read_only(_flag("IsPersonType", feature=PA)),
        _text("Description", 255),
        _read_only(_text("NamespacePrefix", 15)),
    ),
}


def _with_feature_rules(name: str, fields: tuple[SfField, ...], features: frozenset[OrgFeature]) -> tuple[SfField, ...]:
    if name == "Account" and OrgFeature.PERSON_ACCOUNTS in features:
        # A person-account org describes Account.Name as nillable: a person's name is derived.
        return tuple(replace(f, required=False, nil=True) if f.name == "Name" else f for f in fields)
    return fields


@cache
def sandbox_objects(features: frozenset[OrgFeature]) -> dict[str, SfObject]:
    """The org's objects: standard fields from the reference, the project's custom fields from its schema."""
    out: dict[str, SfObject] = {}
    for name, obj in project_objects().items():
        if obj.feature is not None and obj.feature not in features:
            continue
        present = tuple(f for f in obj.fields if f.feature is None or f.feature in features)
        if obj.custom:
            fields = present
        else:
            standard = tuple(f for f in STANDARD_FIELDS[name] if f.feature is None or f.feature in features)
            fields = _with_feature_rules(name, standard, features) + tuple(f for f in present if f.custom)
        out[name] = SfObject(
            obj.name,
            obj.label,
            SYSTEM_FIELDS + fields,
            feature=obj.feature,
            createable=obj.createable,
            updateable=obj.updateable,
            key_prefix=obj.key_prefix,
        )
    return out
