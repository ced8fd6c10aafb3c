"""What a valid AFAS row is, per GetConnector: pydantic models at the edge, field names as AFAS has them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from afas_sf_assets.afas.dates import parse_afas_datetime


def afas_date(value: str) -> str:
    """A date as AFAS sends one, or the ValueError that fails its row."""
    try:
        parse_afas_datetime(value)
    except ValueError:
        raise ValueError("not an AFAS date (yyyy-mm-ddThh:mm:ssZ)") from None
    return value


class AfasRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _dates_are_afas_dates(cls, value: Any, info: ValidationInfo) -> Any:
        # A date AFAS cannot have sent (31-12-2026 25:61) fails this row here, not the flow's high-water mark.
        if isinstance(value, str) and info.field_name and info.field_name.endswith("Date"):
            return afas_date(value)
        return value


class AfasItemGroup(AfasRow):
    GroupCode: str = Field(min_length=1, max_length=15)
    Description: str = Field(min_length=1)
    ParentGroupCode: str | None = None
    SortOrder: int | None = None
    ModifiedDate: str | None = None


class AfasItem(AfasRow):
    ItemCode: str = Field(min_length=1, max_length=40)
    Description: str = Field(min_length=1)
    ExtraDescription: str | None = None
    LongDescription: str | None = None
    ItemGroup: str | None = None
    # AFAS sends null for an empty field: no kind means a simple item, no flag means not blocked.
    ItemKind: Literal["simple", "configurable", "variant"] | None = None
    ParentItemCode: str | None = None
    Size: str | None = None
    Colour: str | None = None
    Brand: str | None = None
    Material: str | None = None
    WeightKg: float | None = None
    Barcode: str | None = None
    UnitId: str | None = None
    VatGroup: str | None = None
    BasicSalesPrice: float | None = None
    CurrencyId: str | None = None
    ManageStock: bool | None = None
    Blocked: bool | None = None
    ImageId: int | None = None
    ImageModifiedDate: str | None = None
    CreateDate: str | None = None
    ModifiedDate: str | None = None

    @model_validator(mode="after")
    def _variants_have_a_parent(self) -> AfasItem:
        if self.ItemKind == "variant" and not self.ParentItemCode:
            raise ValueError("a variant needs ParentItemCode (its configurable item)")
        return self


class AfasItemRelation(AfasRow):
    ItemCode: str = Field(min_length=1)
    RelatedItemCode: str = Field(min_length=1)
    RelationType: str = Field(min_length=1)
    SortOrder: int | None = None
    ModifiedDate: str | None = None


class AfasDebtor(AfasRow):
    DebtorId: str = Field(min_length=1, max_length=16)
    DebtorName: str | None = None
    CompanyName: str | None = None
    ContactFirstName: str | None = None
    ContactLastName: str | None = None
    Email: str | None = None
    Phone: str | None = None
    Mobile: str | None = None
    BillingStreet: str | None = None
    BillingHouseNumber: int | None = None
    BillingHouseNumberAddition: str | None = None
    BillingPostalCode: str | None = None
    BillingCity: str | None = None
    BillingCountry: str | None = None
    DeliveryStreet: str | None = None
    DeliveryHouseNumber: int | None = None
    DeliveryHouseNumberAddition: str | None = None
    DeliveryPostalCode: str | None = None
    DeliveryCity: str | None = None
    DeliveryCountry: str | None = None
    VatNumber: str | None = None
    CocNumber: str | None = None
    PaymentCondition: str | None = None
    PriceGroup: str | None = None
    CurrencyId: str | None = None
    Blocked: bool | None = None
    CreateDate: str | None = None
    ModifiedDate: str | None = None

    @property
    def is_organisation(self) -> bool:
        return bool((self.CompanyName or "").strip())

    @model_validator(mode="after")
    def _a_person_needs_a_last_name(self) -> AfasDebtor:
        if not self.is_organisation and not (self.ContactLastName or "").strip():
            raise ValueError("a debtor without a company name is a person and needs ContactLastName")
        return self


class AfasSalesPrice(AfasRow):
    PriceGroup: str = Field(min_length=1)
    ItemCode: str = Field(min_length=1)
    CurrencyId: str = Field(min_length=3, max_length=3)
    Price: float
    PriceInclVat: bool | None = None
    VatPercentage: float | None = None
    ValidFrom: str | None = None
    ModifiedDate: str | None = None


class AfasStockLevel(AfasRow):
    """One SKU's stock, summed over its warehouses by the stock flow."""

    ItemCode: str = Field(min_length=1)
    StockQuantity: float
    ModifiedDate: str | None = None


class AfasDeliveryNote(AfasRow):
    DeliveryNoteNumber: str = Field(min_length=1)
    OrderNumber: str = Field(min_length=1)
    DebtorId: str | None = None
    DeliveryDate: str | None = None
    Carrier: str | None = None
    TrackTraceCode: str | None = None
    TrackTraceUrl: str | None = None
    Status: str | None = None
    ModifiedDate: str | None = None


class AfasSalesDocument(AfasRow):
    DocumentType: Literal["quote", "order", "invoice", "direct_invoice", "financial_mutation"]
    DocumentNumber: str = Field(min_length=1)
    DebtorId: str | None = None
    Email: str | None = None
    DocumentDate: str
    Status: str | None = None
    CurrencyId: str | None = None
    PaymentCondition: str | None = None
    PaymentMethod: str | None = None
    Reference: str | None = None
    InvoiceNumber: str | None = None
    Administration: int | None = None
    Warehouse: str | None = None
    TotalExclVat: float | None = None
    TotalInclVat: float | None = None
    ModifiedDate: str | None = None
