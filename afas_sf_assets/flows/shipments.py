"""Shipments: one per AFAS delivery note, linked to its Salesforce order and account, with its lines."""

from __future__ import annotations

from typing import Any

from afas_sf_assets.afas.filters import Where
from afas_sf_assets.flows.common import synced
from afas_sf_assets.flows.rows import AfasDeliveryNote
from afas_sf_assets.mapping.apply import apply_mapping
from afas_sf_assets.sync.flow import Flow, FlowContext, TargetRef, Work
from afas_sf_assets.sync.report import Failure

SHIPMENT = TargetRef("Shipment", "AFAS_Delivery_Note__c")


def order_key(order_number: str) -> str:
    """How the orders flow keys an AFAS sales order in Salesforce (AFAS_Order_Key__c)."""
    return f"order|{order_number}"


def _orders(ctx: FlowContext, numbers: list[str]) -> dict[str, dict[str, Any]]:
    """Salesforce orders by AFAS order number: from AFAS (order key) or sent to AFAS (number written back)."""
    found: dict[str, dict[str, Any]] = {}
    soql = (
        "SELECT Id, AccountId, Account.Name, AFAS_Order_Key__c, AFAS_Order_Number__c FROM Order "
        "WHERE AFAS_Order_Key__c IN {keys} OR AFAS_Order_Number__c IN {values}"
    )
    for row in ctx.salesforce.query_in(soql, numbers, derived={"keys": order_key}):
        number = row.get("AFAS_Order_Number__c") or str(row.get("AFAS_Order_Key__c", "")).partition("|")[2]
        found[str(number)] = row
    return found


def note_lines(ctx: FlowContext, works: list[Work]) -> None:
    """Each note's lines, read once per batch: sent by `shipment_lines`, and part of the note's hash, so a
    changed line alone is a change to the note."""
    notes = [w.key for w in works]
    by_note: dict[str, list[dict[str, Any]]] = {}
    if notes:
        for line in ctx.afas.iter_rows(
            "AfasSf_DeliveryNoteLines",
            key=("DeliveryNoteNumber", "LineNumber"),
            where=Where.any_of("DeliveryNoteNumber", notes),
        ):
            by_note.setdefault(str(line["DeliveryNoteNumber"]), []).append(line)
    for work in works:
        work.row["~lines"] = [
            {k: line.get(k) for k in ("LineNumber", "ItemCode", "Quantity")} for line in by_note.get(work.key, [])
        ]


def link_to_order(ctx: FlowContext, works: list[Work]) -> None:
    use_shipment = ctx.org_has("Shipment")
    orders = _orders(ctx, sorted({str(w.row["OrderNumber"]) for w in works}))
    for work in works:
        number = str(work.row["OrderNumber"])
        order = orders.get(number)
        if use_shipment:
            work.record = apply_mapping(ctx.mapping, work.row, "shipment")
            work.target = SHIPMENT
        assert work.record is not None
        if order is None:
            work.waiting_for = f"order {number} is not in Salesforce yet"
            continue
        account_name = (order.get("Account") or {}).get("Name")
        if use_shipment:
            work.record.always.update(
                {
                    "AFAS_Order__c": order["Id"],
                    "AFAS_Account__c": order["AccountId"],
                    "ShipToName": account_name or number,
                }
            )
        else:
            work.record.always.update(
                {"Order__c": order["Id"], "Account__c": order["AccountId"], "Name": f"{number} / {work.key}"}
            )


def shipment_lines(ctx: FlowContext, written: list[Work]) -> None:
    """Each shipment gets the lines of its own delivery note, never another part's."""
    if not written:
        return
    lines = [{**line, "DeliveryNoteNumber": w.key} for w in written for line in w.row.get("~lines", [])]
    products = synced(ctx, "products", [str(line["ItemCode"]) for line in lines])
    use_shipment = ctx.org_has("Shipment")
    records = []
    for line in lines:
        key = f"{line['DeliveryNoteNumber']}|{line['LineNumber']}"
        item = str(line["ItemCode"])
        if item not in products:
            # Written without its product for now; the note stays due until the product is there.
            ctx.child_failed(
                str(line["DeliveryNoteNumber"]),
                Failure(
                    str(line["DeliveryNoteNumber"]),
                    "partial",
                    "WAITING",
                    "ShipmentItem.Product2Id" if use_shipment else "AFAS_Shipment_Line__c.Product__c",
                    f"line {line['LineNumber']}: product {item} is not in Salesforce yet",
                ),
            )
        if use_shipment:
            record: dict[str, Any] = {
                "AFAS_Line_Key__c": key,
                "Quantity": line["Quantity"],
                "Shipment": {"AFAS_Delivery_Note__c": line["DeliveryNoteNumber"]},
            }
            if item in products:
                record["Product2"] = {"AFAS_Item_Code__c": item}
        else:
            record = {
                "AFAS_Line_Key__c": key,
                "Name": f"{key} {item}"[:80],
                "Quantity__c": line["Quantity"],
                "Shipment__r": {"AFAS_Delivery_Note__c": line["DeliveryNoteNumber"]},
            }
            if item in products:
                record["Product__r"] = {"AFAS_Item_Code__c": item}
        records.append(record)
    if records:
        sobject = "ShipmentItem" if use_shipment else "AFAS_Shipment_Line__c"
        outcomes = ctx.salesforce.upsert(sobject, "AFAS_Line_Key__c", records)
        parents = [r["AFAS_Line_Key__c"].rsplit("|", 1)[0] for r in records]
        ctx.children_written("lines", sobject, parents, records, outcomes)


def _shipment_profile(ctx: FlowContext) -> tuple[str, ...]:
    return ("shipment",) if ctx.org_has("Shipment") else ()


SHIPMENTS = Flow(
    name="shipments",
    mapping="shipments.yaml",
    row_model=AfasDeliveryNote,
    depends_on=("orders",),
    rules=(note_lines, link_to_order),
    after_write=(shipment_lines,),
    hash_also=("~lines",),
    profiles_for=_shipment_profile,
    reads_also=("AfasSf_DeliveryNoteLines",),
    extra_requirements=lambda ctx: {"Order": ["AFAS_Order_Key__c", "AFAS_Order_Number__c"]},
    writes_also=("Order",),
    description="AFAS delivery notes → a shipment each (several per order when shipped in parts), with lines.",
)
