"""Stock: per SKU, summed over warehouses by a selectable calculation; only changed quantities are sent."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.afas.filters import Where
from afas_sf_assets.flows.common import synced
from afas_sf_assets.flows.rows import AfasStockLevel
from afas_sf_assets.sync.flow import Flow, FlowContext, Work

STOCK = "AfasSf_Stock"
CODES_PER_READ = 200

CALCULATIONS: dict[str, Callable[[dict[str, Any]], float]] = {
    "available_minus_reserved": lambda r: float(r.get("Available") or 0) - float(r.get("SalesReserved") or 0),
    "available": lambda r: float(r.get("Available") or 0),
    "physical": lambda r: float(r.get("Physical") or 0),
    "physical_minus_reserved": lambda r: float(r.get("Physical") or 0) - float(r.get("SalesReserved") or 0),
}


def calculate(rows: list[dict[str, Any]], calculation: str, warehouses: list[str]) -> dict[str, Any]:
    """One SKU's stock level from its per-warehouse rows."""
    if calculation not in CALCULATIONS:
        raise ValueError(f"stock calculation {calculation!r} is not one of {', '.join(CALCULATIONS)}")
    counted = [r for r in rows if not warehouses or r.get("Warehouse") in warehouses]
    dates = [str(r["ModifiedDate"]) for r in rows if r.get("ModifiedDate")]
    level: dict[str, Any] = {"ItemCode": rows[0]["ItemCode"], "ModifiedDate": max(dates) if dates else None}
    try:
        per_warehouse = {str(r["Warehouse"]): _finite(round(CALCULATIONS[calculation](r), 3)) for r in counted}
    except (TypeError, ValueError) as exc:
        # Not a number in one warehouse row: this SKU is quarantined with the value, the others go on.
        return {**level, "StockQuantity": f"{exc}", "PerWarehouse": {}}
    return {**level, "StockQuantity": round(sum(per_warehouse.values()), 3), "PerWarehouse": per_warehouse}


def _finite(quantity: float) -> float:
    if not math.isfinite(quantity):
        raise ValueError(f"a stock quantity of {quantity} is not a number")
    return quantity


def stock_levels(ctx: FlowContext, where: Where | None) -> Iterator[dict[str, Any]]:
    """Rows per SKU. A changed warehouse row means re-reading all of that SKU's warehouses."""
    options = ctx.mapping.options
    calculation = str(options.get("calculation", "available_minus_reserved"))
    warehouses = list(options.get("warehouses") or [])
    key = CONNECTOR_SET[STOCK].key

    def grouped(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        current: list[dict[str, Any]] = []
        for row in rows:
            if current and row["ItemCode"] != current[0]["ItemCode"]:
                yield calculate(current, calculation, warehouses)
                current = []
            current.append(row)
        if current:
            yield calculate(current, calculation, warehouses)

    if where is None:
        yield from grouped(ctx.afas.iter_rows(STOCK, key=key))
        return
    pending: list[str] = []
    seen: set[str] = set()
    for row in ctx.afas.iter_rows(STOCK, key=key, where=where):
        code = str(row["ItemCode"])
        if code not in seen:
            seen.add(code)
            pending.append(code)
        if len(pending) >= CODES_PER_READ:
            yield from grouped(ctx.afas.iter_rows(STOCK, key=key, where=Where.any_of("ItemCode", pending)))
            pending = []
    if pending:
        yield from grouped(ctx.afas.iter_rows(STOCK, key=key, where=Where.any_of("ItemCode", pending)))


def managed_products_only(ctx: FlowContext, works: list[Work]) -> None:
    """Stock goes onto existing products that manage stock; an item not in Salesforce yet waits."""
    codes = [w.key for w in works]
    present = synced(ctx, "products", codes)
    managed = {
        str(r["ItemCode"]): r.get("ManageStock")
        for r in ctx.afas.iter_rows("AfasSf_Items", key=("ItemCode",), where=Where.any_of("ItemCode", codes))
    }
    for work in works:
        if managed.get(work.key) is False:
            work.skip_reason = "the item does not manage stock in AFAS"
        elif work.key not in present:
            work.waiting_for = f"product {work.key} is not in Salesforce yet"


def product_items(ctx: FlowContext, written: list[Work]) -> None:
    """Where Field Service exists and it is asked for: a ProductItem per SKU and warehouse Location."""
    if not written or not ctx.mapping.options.get("product_items") or not ctx.org_has("ProductItem"):
        return
    warehouses = sorted({wh for w in written for wh in w.row["PerWarehouse"]})
    made: set[str] = ctx.cache.setdefault("locations", set())
    new = [wh for wh in warehouses if wh not in made]
    if new:
        locations = [
            {"AFAS_Warehouse__c": wh, "Name": wh, "LocationType": "Warehouse", "IsInventoryLocation": True}
            for wh in new
        ]
        outcomes = ctx.salesforce.upsert("Location", "AFAS_Warehouse__c", locations)
        made.update(wh for wh, outcome in zip(new, outcomes, strict=True) if outcome.success)
    records = [
        {
            "AFAS_Stock_Key__c": f"{w.key}|{wh}",
            "QuantityOnHand": quantity,
            "Product2": {"AFAS_Item_Code__c": w.key},
            "Location": {"AFAS_Warehouse__c": wh},
        }
        for w in written
        for wh, quantity in w.row["PerWarehouse"].items()
    ]
    existing = ctx.salesforce.ids_by_external_id(
        "ProductItem", "AFAS_Stock_Key__c", [r["AFAS_Stock_Key__c"] for r in records]
    )
    for record in records:
        if record["AFAS_Stock_Key__c"] in existing:
            # Product and location of a ProductItem are fixed once it exists.
            del record["Product2"], record["Location"]
    outcomes = ctx.salesforce.upsert("ProductItem", "AFAS_Stock_Key__c", records)
    parents = [r["AFAS_Stock_Key__c"].rsplit("|", 1)[0] for r in records]
    ctx.children_written("product_items", "ProductItem", parents, records, outcomes)


STOCK_FLOW = Flow(
    name="stock",
    mapping="stock.yaml",
    row_model=AfasStockLevel,
    depends_on=("products",),
    rules=(managed_products_only,),
    after_write=(product_items,),
    # A quantity moving between warehouses changes the product items, not the total.
    hash_also=("PerWarehouse",),
    extract=stock_levels,
    derived_fields=("StockQuantity",),
    reads_also=("AfasSf_Items",),
    extra_requirements=lambda ctx: {"Product2": ["AFAS_Stock__c", "AFAS_Manage_Stock__c"]},
    description="AFAS stock per warehouse → stock per SKU on Product2 (and ProductItem per location).",
)
