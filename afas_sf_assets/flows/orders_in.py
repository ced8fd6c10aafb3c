"""Orders from AFAS: quotes, orders, invoices, direct invoices, financial mutations → Salesforce Orders.

A document goes once its customer is in Salesforce (made now, by the customer rules, when missing)
and every product on it has a price in the order's price book (the customer's price group, else the
standard book); until then it waits with the exact reason. A document that came from a Salesforce
order (its reference holds that order's id) updates that order instead of becoming a second one.
"""

from __future__ import annotations

import re
from typing import Any

from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets.flows.common import standard_price_book, synced
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.prices import PRICE_BOOKS_LEDGER, standard_key
from afas_sf_assets.flows.rows import AfasSalesDocument
from afas_sf_assets.sync.flow import Flow, FlowContext, Work

SALESFORCE_ORDER_ID = re.compile(r"^801[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
LINES = "AfasSf_SalesDocumentLines"


def select_documents(ctx: FlowContext, works: list[Work]) -> None:
    """Each document type on or off, and only the statuses configured for it."""
    types: dict[str, Any] = ctx.mapping.options.get("document_types", {})
    for work in works:
        kind, status = str(work.row["DocumentType"]), work.row.get("Status")
        config = types.get(kind) or {}
        if not config.get("enabled", False):
            work.skip_reason = f"document type {kind} is not synced"
        elif config.get("statuses") and status not in config["statuses"]:
            work.skip_reason = f"status {status} of {kind} is not synced"


def _echoes(ctx: FlowContext, works: list[Work]) -> dict[str, str]:
    """Documents AFAS made from a Salesforce order: document key → that order's id."""
    references = {
        str(w.row["Reference"]): w.key
        for w in works
        if not w.skip_reason and SALESFORCE_ORDER_ID.match(str(w.row.get("Reference") or ""))
    }
    if not references:
        return {}
    found = ctx.salesforce.query_in(
        "SELECT Id FROM Order WHERE Id IN {values} AND AFAS_Origin__c = 'salesforce'", references
    )
    by_id = {row["Id"][:15]: row["Id"] for row in found}
    return {key: by_id[ref[:15]] for ref, key in references.items() if ref[:15] in by_id}


def _accounts(ctx: FlowContext, debtors: set[str]) -> dict[str, str]:
    """Salesforce account per debtor: its own account, or the default account for a person contact."""
    found: dict[str, str] = {}
    for row in ctx.salesforce.query_in(
        "SELECT Id, AFAS_Debtor_Id__c FROM Account WHERE AFAS_Debtor_Id__c IN {values}", sorted(debtors)
    ):
        found[str(row["AFAS_Debtor_Id__c"])] = row["Id"]
    rest = debtors - set(found)
    if rest:
        for row in ctx.salesforce.query_in(
            "SELECT AccountId, AFAS_Contact_Key__c FROM Contact WHERE AFAS_Contact_Key__c IN {values}", sorted(rest)
        ):
            if row.get("AccountId"):
                found[str(row["AFAS_Contact_Key__c"])] = row["AccountId"]
    return found


def customer_products_and_prices(ctx: FlowContext, works: list[Work]) -> None:
    """Account, price book and lines for each document, or the exact reason it must wait."""
    live = [w for w in works if not w.skip_reason]
    if not live:
        return
    echoes = _echoes(ctx, live)
    ctx.cache.setdefault("echoes", {}).update(echoes)
    live = [w for w in live if w.key not in echoes]
    default_debtor = ctx.mapping.options.get("default_debtor")
    debtor_of = {w.key: str(w.row.get("DebtorId") or default_debtor or "") for w in live}
    debtors = {d for d in debtor_of.values() if d}
    missing = sorted(debtors - synced(ctx, "customers", debtors))
    if missing and not ctx.dry_run and ctx.engine is not None:
        ctx.engine.sync_keys(CUSTOMERS, missing, run_id=ctx.run_id)
    accounts = _accounts(ctx, debtors) if debtors else {}
    groups = (
        {
            str(r["DebtorId"]): r.get("PriceGroup")
            for r in ctx.afas.iter_rows(
                "AfasSf_Debtors", key=("DebtorId",), where=Where.any_of("DebtorId", sorted(debtors))
            )
        }
        if debtors
        else {}
    )
    books = ctx.state.entries(PRICE_BOOKS_LEDGER, [g for g in groups.values() if g])
    document_groups = tuple(
        (
            Condition("DocumentType", Operator.EQ, w.row["DocumentType"]),
            Condition("DocumentNumber", Operator.EQ, w.row["DocumentNumber"]),
        )
        for w in live
    )
    lines: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(document_groups), 100):
        for line in ctx.afas.iter_rows(
            LINES,
            key=("DocumentType", "DocumentNumber", "LineNumber"),
            where=Where(document_groups[start : start + 100]),
        ):
            lines.setdefault(f"{line['DocumentType']}|{line['DocumentNumber']}", []).append(line)
    ctx.cache.setdefault("lines", {}).update(lines)
    items = {str(line["ItemCode"]) for doc in lines.values() for line in doc}
    products = synced(ctx, "products", items)
    entry_keys: dict[str, list[str]] = {}
    for work in live:
        debtor = debtor_of[work.key]
        currency = str(work.row.get("CurrencyId") or "EUR")
        group = groups.get(debtor)
        book = books.get(group) if group else None
        use_group = bool(book and book.target_id)
        entry_keys[work.key] = [
            f"{group}|{line['ItemCode']}|{currency}" if use_group else standard_key(str(line["ItemCode"]), currency)
            for line in lines.get(work.key, [])
        ]
        work.row = {**work.row, "~book": group if use_group else "standard"}
    prices = synced(ctx, "prices", [k for keys in entry_keys.values() for k in keys])
    for work in live:
        assert work.record is not None
        debtor = debtor_of[work.key]
        if not debtor:
            work.waiting_for = "the document has no debtor and no default debtor is configured"
            continue
        if debtor not in accounts:
            work.waiting_for = f"customer {debtor} is not in Salesforce yet"
            continue
        unknown = [str(line["ItemCode"]) for line in lines.get(work.key, []) if str(line["ItemCode"]) not in products]
        if unknown:
            work.waiting_for = f"product {', '.join(sorted(set(unknown)))} is not in Salesforce yet"
            continue
        unpriced = [k for k in entry_keys[work.key] if k not in prices]
        if unpriced:
            book = work.row["~book"]
            items_unpriced = sorted({k.split("|")[1] for k in unpriced})
            work.waiting_for = (
                f"product {', '.join(items_unpriced)} has no price in price book {book} "
                f"({work.row.get('CurrencyId') or 'EUR'})"
            )
            continue
        book_id = books[work.row["~book"]].target_id if work.row["~book"] != "standard" else standard_price_book(ctx)
        work.record.create_only["AccountId"] = accounts[debtor]
        work.record.create_only["Pricebook2Id"] = book_id
        # The lines are part of the document: a changed line makes the document changed (hash_also).
        work.row["~lines"] = [
            (line["LineNumber"], line["ItemCode"], line["Quantity"], line["UnitPrice"])
            for line in lines.get(work.key, [])
        ]
        ctx.cache.setdefault("entries", {})[work.key] = entry_keys[work.key]


def existing_orders(ctx: FlowContext, works: list[Work]) -> None:
    """Already in Salesforce: update while Draft (as configured), else leave it; echoes get linked."""
    echoes: dict[str, str] = ctx.cache.get("echoes", {})
    links = []
    for work in works:
        if work.key in echoes and work.target_id is None:
            work.target_id = echoes[work.key]
            links.append({"Id": echoes[work.key], "AFAS_Order_Key__c": work.key})
    if links and not ctx.dry_run:
        ctx.salesforce.update_by_id("Order", links)
    ctx.count("echoes_linked", len(links))
    existing = [w for w in works if w.target_id and w.key not in echoes and not w.waiting_for]
    if not existing:
        return
    if not ctx.mapping.options.get("update_while_draft", True):
        for work in existing:
            work.skip_reason = "already in Salesforce"
        return
    ids = [w.target_id for w in existing if w.target_id]
    status = {
        row["Id"]: row["Status"]
        for row in ctx.salesforce.query_in("SELECT Id, Status FROM Order WHERE Id IN {values}", ids)
    }
    for work in existing:
        if status.get(work.target_id or "") not in (None, "Draft"):
            work.skip_reason = f"the Salesforce order is {status[work.target_id or '']}, no longer Draft"


def order_lines(ctx: FlowContext, written: list[Work]) -> None:
    """The lines of each written document (not of echoes: Salesforce made those)."""
    echoes: dict[str, str] = ctx.cache.get("echoes", {})
    documents = [w for w in written if w.key not in echoes]
    entries: dict[str, list[str]] = ctx.cache.get("entries", {})
    records = []
    for work in documents:
        for line, entry in zip(ctx.cache.get("lines", {}).get(work.key, []), entries.get(work.key, []), strict=True):
            records.append(
                {
                    "AFAS_Line_Key__c": f"{work.key}|{line['LineNumber']}",
                    "Quantity": line["Quantity"],
                    "UnitPrice": line["UnitPrice"],
                    "Description": str(line.get("Description") or "")[:255],
                    "Order": {"AFAS_Order_Key__c": work.key},
                    "PricebookEntry": {"AFAS_Price_Key__c": entry},
                }
            )
    # The order products the project made before: kept when AFAS still has the line, else removed.
    existing: dict[str, str] = {}
    order_ids = [w.target_id for w in documents if w.target_id]
    for row in ctx.salesforce.query_in(
        "SELECT Id, AFAS_Line_Key__c FROM OrderItem WHERE OrderId IN {values} AND AFAS_Line_Key__c != null", order_ids
    ):
        existing[str(row["AFAS_Line_Key__c"])] = row["Id"]
    current = {r["AFAS_Line_Key__c"] for r in records}
    removed = [(key, record_id) for key, record_id in existing.items() if key not in current]
    if removed:
        outcomes = ctx.salesforce.delete_records([record_id for _, record_id in removed])
        ctx.children_written(
            "lines_removed",
            "OrderItem",
            [key.rsplit("|", 1)[0] for key, _ in removed],
            [{"Id": record_id, "AFAS_Line_Key__c": key} for key, record_id in removed],
            outcomes,
        )
    if not records:
        return
    for record in records:
        if record["AFAS_Line_Key__c"] in existing:
            # An order product's order and price book entry are fixed once it exists.
            del record["Order"], record["PricebookEntry"]
    outcomes = ctx.salesforce.upsert("OrderItem", "AFAS_Line_Key__c", records)
    parents = [record["AFAS_Line_Key__c"].rsplit("|", 1)[0] for record in records]
    ctx.children_written("lines", "OrderItem", parents, records, outcomes)


ORDERS = Flow(
    name="orders",
    mapping="orders.yaml",
    row_model=AfasSalesDocument,
    depends_on=("customers", "products", "prices"),
    rules=(select_documents, customer_products_and_prices),
    matching=(existing_orders,),
    after_write=(order_lines,),
    reads_also=(LINES,),
    hash_also=("~lines",),
    extra_requirements=lambda ctx: {"OrderItem": ["AFAS_Line_Key__c", "OrderId", "PricebookEntryId"]},
    writes_also=("OrderItem",),
    description="AFAS quotes, orders, invoices, direct invoices (and financial mutations) → Order + OrderItem.",
)
