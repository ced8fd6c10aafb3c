"""The GetConnectors afas-sf reads: the set a customer imports into AFAS (see docs/afas-connectors.md).

AFAS's standard `Profit_*` connectors lack what the flows need (a debtor's contact person and
delivery address, stock reservations per warehouse, a price group's prices, a delivery note's
track-and-trace), so the project ships its own definitions, prefixed `AfasSf_`. Each has a key that
identifies a row (what keyset paging orders on) and, where AFAS keeps one, a modification date
(what incremental reads and the change sensors filter on).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"


@dataclass(frozen=True)
class ConnectorField:
    id: str
    data_type: FieldType
    label: str
    length: int | None = None  # what metainfo reports; None: AFAS's own length for that field


@dataclass(frozen=True)
class GetConnectorSpec:
    id: str
    description: str
    key: tuple[str, ...]
    fields: tuple[ConnectorField, ...]
    modified_field: str | None = "ModifiedDate"

    def field(self, field_id: str) -> ConnectorField | None:
        return next((f for f in self.fields if f.id == field_id), None)

    @property
    def field_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields)

    def as_plain(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "key": list(self.key),
            "modified": self.modified_field,
            "fields": [
                {"id": f.id, "type": f.data_type.value, "label": f.label, "length": f.length} for f in self.fields
            ],
        }


def spec_from_plain(connector: str, plain: dict[str, Any]) -> GetConnectorSpec:
    """A GetConnector of the user's own, as `--afas-data` describes it: its key, its modification date field,
    and its fields with their AFAS data types (string, int, decimal, boolean, date) and text lengths."""
    try:
        fields = tuple(
            ConnectorField(f["id"], FieldType(f.get("type", "string")), f.get("label") or f["id"], f.get("length"))
            for f in plain["fields"]
        )
        key = tuple(plain["key"]) if isinstance(plain["key"], list) else (plain["key"],)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f'{connector}: describe it as {{"key": [...], "modified": "ModifiedDate", "fields": '
            f'[{{"id": ..., "type": "string|int|decimal|boolean|date", "length": ...}}], "rows": [...]}} '
            f"({type(exc).__name__}: {exc})"
        ) from None
    spec = GetConnectorSpec(connector, plain.get("description") or connector, key, fields, plain.get("modified"))
    unknown = [f for f in (*key, *([spec.modified_field] if spec.modified_field else [])) if spec.field(f) is None]
    if unknown:
        raise ValueError(f"{connector}: the key and modification fields must be among its fields: {', '.join(unknown)}")
    return spec


def _fields(*specs: str) -> tuple[ConnectorField, ...]:
    """`"Id:type:Label"` triples, so the table below reads like AFAS's own field list."""
    out = []
    for spec in specs:
        field_id, data_type, label = spec.split(":", 2)
        out.append(ConnectorField(field_id, FieldType(data_type), label))
    return tuple(out)


_ADDRESS = (
    "Street:string:{} street",
    "HouseNumber:int:{} house number",
    "HouseNumberAddition:string:{} house number addition",
    "PostalCode:string:{} postal code",
    "City:string:{} city",
    "Country:string:{} country (AFAS code)",
)


def _address(prefix: str, label: str) -> list[str]:
    return [f"{prefix}{spec.format(label)}" for spec in _ADDRESS]


CONNECTOR_SET: dict[str, GetConnectorSpec] = {
    spec.id: spec
    for spec in (
        GetConnectorSpec(
            "AfasSf_ItemGroups",
            "Item groups (categories), a tree through ParentGroupCode",
            ("GroupCode",),
            _fields(
                "GroupCode:string:Item group",
                "Description:string:Description",
                "ParentGroupCode:string:Parent item group",
                "SortOrder:int:Sort order",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_Items",
            "Items: simple, configurable parents and their variants",
            ("ItemCode",),
            _fields(
                "ItemCode:string:Item code (SKU)",
                "Description:string:Description",
                "ExtraDescription:string:Short description",
                "LongDescription:string:Long description",
                "ItemGroup:string:Item group",
                "ItemKind:string:simple | configurable | variant",
                "ParentItemCode:string:Configurable parent (variants)",
                "Size:string:Attribute size",
                "Colour:string:Attribute colour",
                "Brand:string:Characteristic brand",
                "Material:string:Characteristic material",
                "WeightKg:decimal:Characteristic weight (kg)",
                "Barcode:string:EAN / GTIN",
                "UnitId:string:Basic unit",
                "VatGroup:string:VAT group",
                "BasicSalesPrice:decimal:Basic sales price excl. VAT",
                "CurrencyId:string:Currency",
                "ManageStock:boolean:Track stock",
                "Blocked:boolean:Blocked",
                "ImageId:int:Image (ImageConnector id)",
                "ImageModifiedDate:date:Image modified",
                "CreateDate:date:Created",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_ItemRelations",
            "Cross-sell, up-sell and related items",
            ("ItemCode", "RelatedItemCode", "RelationType"),
            _fields(
                "ItemCode:string:Item code",
                "RelatedItemCode:string:Related item code",
                "RelationType:string:cross_sell | up_sell | related",
                "SortOrder:int:Sort order",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_Debtors",
            "Debtors with their organisation or person, contact and addresses",
            ("DebtorId",),
            _fields(
                "DebtorId:string:Debtor number",
                "DebtorName:string:Debtor name",
                "CompanyName:string:Organisation name (empty for a person)",
                "ContactFirstName:string:Contact first name",
                "ContactLastName:string:Contact last name",
                "Email:string:E-mail",
                "Phone:string:Phone",
                "Mobile:string:Mobile",
                *_address("Billing", "Billing"),
                *_address("Delivery", "Delivery"),
                "VatNumber:string:VAT number",
                "CocNumber:string:CoC number",
                "PaymentCondition:string:Payment condition",
                "PriceGroup:string:Price group",
                "CurrencyId:string:Currency",
                "Blocked:boolean:Blocked",
                "CreateDate:date:Created",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_PriceGroups",
            "Price groups (price lists)",
            ("PriceGroup",),
            _fields("PriceGroup:string:Price group", "Description:string:Description", "ModifiedDate:date:Modified"),
        ),
        GetConnectorSpec(
            "AfasSf_SalesPrices",
            "Sales prices per price group, item and currency",
            ("PriceGroup", "ItemCode", "CurrencyId"),
            _fields(
                "PriceGroup:string:Price group",
                "ItemCode:string:Item code",
                "CurrencyId:string:Currency",
                "Price:decimal:Price",
                "PriceInclVat:boolean:Price incl. VAT",
                "VatPercentage:decimal:VAT percentage",
                "ValidFrom:date:Valid from",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_Stock",
            "Stock per item and warehouse",
            ("ItemCode", "Warehouse"),
            _fields(
                "ItemCode:string:Item code",
                "Warehouse:string:Warehouse",
                "Physical:decimal:Physical stock",
                "Available:decimal:Available stock",
                "SalesReserved:decimal:Reserved for sales orders",
                "PurchaseOrdered:decimal:On order from suppliers",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_SalesDocuments",
            "Quotes, orders, invoices, direct invoices and financial mutations",
            ("DocumentType", "DocumentNumber"),
            _fields(
                "DocumentType:string:quote | order | invoice | direct_invoice | financial_mutation",
                "DocumentNumber:string:Number",
                "DebtorId:string:Debtor",
                "Email:string:Debtor e-mail",
                "DocumentDate:date:Date",
                "Status:string:Status",
                "CurrencyId:string:Currency",
                "PaymentCondition:string:Payment condition",
                "PaymentMethod:string:Payment method",
                "Reference:string:Order number/reference (RfCs)",
                "InvoiceNumber:string:Invoice number",
                "Administration:int:Administration",
                "Warehouse:string:Warehouse",
                "TotalExclVat:decimal:Total excl. VAT",
                "TotalInclVat:decimal:Total incl. VAT",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_SalesDocumentLines",
            "Lines of the sales documents",
            ("DocumentType", "DocumentNumber", "LineNumber"),
            _fields(
                "DocumentType:string:Document type",
                "DocumentNumber:string:Number",
                "LineNumber:int:Line",
                "ItemCode:string:Item code",
                "Description:string:Description",
                "Quantity:decimal:Quantity",
                "UnitPrice:decimal:Unit price",
                "LineTotal:decimal:Line total",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_DeliveryNotes",
            "Delivery notes (one per shipment; an order may have several)",
            ("DeliveryNoteNumber",),
            _fields(
                "DeliveryNoteNumber:string:Delivery note",
                "OrderNumber:string:Sales order",
                "DebtorId:string:Debtor",
                "DeliveryDate:date:Delivery date",
                "Carrier:string:Carrier",
                "TrackTraceCode:string:Track-and-trace code",
                "TrackTraceUrl:string:Track-and-trace URL",
                "Status:string:Status",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "AfasSf_DeliveryNoteLines",
            "Lines of the delivery notes",
            ("DeliveryNoteNumber", "LineNumber"),
            _fields(
                "DeliveryNoteNumber:string:Delivery note",
                "LineNumber:int:Line",
                "OrderNumber:string:Sales order",
                "ItemCode:string:Item code",
                "Quantity:decimal:Quantity",
                "ModifiedDate:date:Modified",
            ),
        ),
        GetConnectorSpec(
            "Profit_Administrations",
            "Administrations (standard connector)",
            ("AdminId",),
            _fields("AdminId:int:Administration", "AdminNm:string:Name", "AdminCd:string:Code"),
            modified_field=None,
        ),
    )
}
