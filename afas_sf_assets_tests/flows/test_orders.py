"""Orders both ways, and no echoes between them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.orders_out import FLOW as AFAS_ORDERS
from afas_sf_assets.flows.orders_out import OrdersToAfas
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce

ENABLED = {
    "quote": {"Open", "Accepted"},
    "order": {"Open", "Delivered", "Partially delivered", "Invoiced"},
    "invoice": {"Open", "Paid"},
    "direct_invoice": {"Open", "Paid"},
}


def prepare(engine: SyncEngine) -> None:
    for flow in (PRODUCTS, CUSTOMERS, PRICES):
        engine.run(flow, run_id="setup")


def test_every_enabled_document_lands_once_with_its_lines_and_prices(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    report = engine.run(ORDERS, run_id="orders")
    documents = org.sandbox.rows("AfasSf_SalesDocuments")
    wanted = [d for d in documents if d["Status"] in ENABLED.get(d["DocumentType"], set())]
    assert report.created == len(wanted) and report.failed == report.waiting == 0
    assert report.counts["skipped"] == len(documents) - len(wanted)
    orders = org.records("Order", "AFAS_Order_Key__c")
    assert set(orders) == {f"{d['DocumentType']}|{d['DocumentNumber']}" for d in wanted}
    accounts = {a["Id"]: a for a in org.sandbox.sf_records("Account")}
    books = {b["Id"]: b for b in org.sandbox.sf_records("Pricebook2")}
    entries = {e["Id"]: e for e in org.sandbox.sf_records("PricebookEntry")}
    items = {i["AFAS_Line_Key__c"]: i for i in org.sandbox.sf_records("OrderItem")}
    debtors = {d["DebtorId"]: d for d in org.sandbox.rows("AfasSf_Debtors")}
    lines = org.sandbox.rows("AfasSf_SalesDocumentLines")
    for document in wanted:
        key = f"{document['DocumentType']}|{document['DocumentNumber']}"
        order = orders[key]
        assert order["AFAS_Document_Type__c"] == document["DocumentType"]
        assert order["Status"] == "Draft" and order["AFAS_Origin__c"] == "afas"
        debtor = debtors[document["DebtorId"]]
        if debtor["CompanyName"]:
            assert accounts[order["AccountId"]]["AFAS_Debtor_Id__c"] == debtor["DebtorId"]
            assert books[order["Pricebook2Id"]].get("AFAS_Price_Group__c") == debtor["PriceGroup"]
        mine = [
            line
            for line in lines
            if (line["DocumentType"], line["DocumentNumber"]) == (document["DocumentType"], document["DocumentNumber"])
        ]
        for line in mine:
            item = items[f"{key}|{line['LineNumber']}"]
            assert item["OrderId"] == order["Id"]
            assert (item["Quantity"], item["UnitPrice"]) == (line["Quantity"], line["UnitPrice"])
            assert entries[item["PricebookEntryId"]]["Pricebook2Id"] == order["Pricebook2Id"]
        assert order["TotalAmount"] == pytest.approx(sum(line["Quantity"] * line["UnitPrice"] for line in mine))
    again = engine.run(ORDERS, run_id="again")
    assert again.created == 0 and len(org.records("Order", "AFAS_Order_Key__c")) == len(wanted)


def test_document_with_an_unknown_product_waits_and_lands_after_the_product_flow(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    line = next(line for line in org.sandbox.rows("AfasSf_SalesDocumentLines") if line["DocumentType"] == "order")
    item = line["ItemCode"]
    org.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Barcode": "X" * 30}])  # Salesforce refuses it
    prepare(engine)
    first = engine.run(ORDERS, run_id="orders-1")
    key = f"order|{line['DocumentNumber']}"
    entry = org.state.entry("orders", key)
    assert entry is not None and entry.error_message == f"product {item} is not in Salesforce yet"
    assert first.waiting >= 1 and key not in org.records("Order", "AFAS_Order_Key__c")
    org.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Barcode": None}])
    engine.run(PRODUCTS, run_id="products-2")
    engine.run(PRICES, run_id="prices-2")
    engine.run(ORDERS, run_id="orders-2")
    assert key in org.records("Order", "AFAS_Order_Key__c")


def test_the_customer_is_made_on_demand_by_the_customer_rules(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(PRODUCTS, run_id="products")
    engine.run(PRICES, run_id="prices")
    report = engine.run(ORDERS, run_id="orders")  # no customers run before
    assert report.created > 0
    debtors = {
        d["DocumentType"] + d["DocumentNumber"]: d["DebtorId"] for d in org.sandbox.rows("AfasSf_SalesDocuments")
    }
    assert {a["AFAS_Debtor_Id__c"] for a in org.sandbox.sf_records("Account") if a.get("AFAS_Debtor_Id__c")} & set(
        debtors.values()
    )


def test_only_draft_orders_are_updated(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    engine.run(ORDERS, run_id="orders-1")
    orders = org.records("Order", "AFAS_Order_Key__c")
    draft_key, active_key = [k for k in orders if k.startswith("order|")][:2]
    sf = plain_salesforce(org.sandbox)
    sf.Order.update(orders[active_key]["Id"], {"Status": "Activated"})
    for key in (draft_key, active_key):
        org.sandbox.upsert(
            "AfasSf_SalesDocuments",
            [{"DocumentType": "order", "DocumentNumber": key.split("|")[1], "InvoiceNumber": "F-" + key.split("|")[1]}],
        )
    report = engine.run(ORDERS, run_id="orders-2")
    orders = org.records("Order", "AFAS_Order_Key__c")
    assert orders[draft_key]["AFAS_Invoice_Number__c"] == "F-" + draft_key.split("|")[1]
    assert orders[active_key].get("AFAS_Invoice_Number__c") is None
    assert report.counts["skipped"] >= 1


def test_a_line_removed_in_afas_leaves_the_draft_order(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    engine.run(ORDERS, run_id="orders-1")
    lines = org.sandbox.rows("AfasSf_SalesDocumentLines")
    number = next(
        line["DocumentNumber"]
        for line in lines
        if line["DocumentType"] == "order"
        and line["LineNumber"] == 2
        and any(
            d["DocumentNumber"] == line["DocumentNumber"]
            and d["DocumentType"] == "order"
            and d["Status"] in ENABLED["order"]
            for d in org.sandbox.rows("AfasSf_SalesDocuments")
        )
    )
    key = f"order|{number}"
    before = [i for i in org.sandbox.sf_records("OrderItem") if i["AFAS_Line_Key__c"].startswith(key + "|")]
    org.sandbox.delete(
        "AfasSf_SalesDocumentLines", {"DocumentType": "order", "DocumentNumber": number, "LineNumber": 2}
    )
    org.sandbox.upsert("AfasSf_SalesDocuments", [{"DocumentType": "order", "DocumentNumber": number}])
    report = engine.run(ORDERS, run_id="orders-2")
    after = [i for i in org.sandbox.sf_records("OrderItem") if i["AFAS_Line_Key__c"].startswith(key + "|")]
    assert report.counts["lines_removed"] == 1
    assert sorted(i["AFAS_Line_Key__c"] for i in after) == sorted(
        i["AFAS_Line_Key__c"] for i in before if i["AFAS_Line_Key__c"] != f"{key}|2"
    )
    remaining = [
        line
        for line in org.sandbox.rows("AfasSf_SalesDocumentLines")
        if (line["DocumentType"], line["DocumentNumber"]) == ("order", number)
    ]
    assert org.records("Order", "AFAS_Order_Key__c")[key]["TotalAmount"] == pytest.approx(
        sum(line["Quantity"] * line["UnitPrice"] for line in remaining)
    )


def salesforce_order(
    org: Org, *, person: bool = False, email: str = "inkoop@nieuwe-klant.example", items: int = 2
) -> str:
    """An order as a sales rep enters it in Salesforce: a new customer, products from AFAS, activated."""
    sf = plain_salesforce(org.sandbox)
    if person:
        record_type = sf.query("SELECT Id FROM RecordType WHERE IsPersonType = true")["records"][0]["Id"]
        account = sf.Account.create(
            {
                "RecordTypeId": record_type,
                "FirstName": "Eva",
                "LastName": "Smit",
                "PersonEmail": email,
                "BillingStreet": "Dorpsstraat 5 b",
                "BillingPostalCode": "3511 AB",
                "BillingCity": "Utrecht",
                "BillingCountryCode": "NL",
            }
        )["id"]
    else:
        account = sf.Account.create(
            {
                "Name": "Nieuwe Klant B.V.",
                "BillingStreet": "Stationsweg 12 A",
                "BillingPostalCode": "1011 AB",
                "BillingCity": "Amsterdam",
                "BillingCountryCode": "NL",
                "ShippingStreet": "Havenweg 3",
                "ShippingCity": "Rotterdam",
            }
        )["id"]
        sf.Contact.create({"AccountId": account, "FirstName": "Kees", "LastName": "Inkoper", "Email": email})
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    entries = sf.query(
        f"SELECT Id, UnitPrice, Product2Id FROM PricebookEntry WHERE Pricebook2Id = '{standard}' "
        f"AND CurrencyIsoCode = 'EUR' LIMIT {items}"
    )["records"]
    order = sf.Order.create(
        {
            "AccountId": account,
            "EffectiveDate": "2026-11-27",
            "Status": "Draft",
            "Pricebook2Id": standard,
            "AFAS_Payment_Condition__c": "Net 14",
            "AFAS_Payment_Method__c": "iDEAL",
        }
    )["id"]
    for entry in entries:
        sf.OrderItem.create(
            {"OrderId": order, "PricebookEntryId": entry["Id"], "Quantity": 2, "UnitPrice": entry["UnitPrice"]}
        )
    sf.Order.update(order, {"Status": "Activated"})
    return order


def afas_documents_for(org: Org, order_id: str) -> list[dict[str, Any]]:
    return [d for d in org.sandbox.rows("AfasSf_SalesDocuments") if d["Reference"] == order_id]


def test_salesforce_order_lands_in_afas_once_with_a_new_organisation_debtor(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    order_id = salesforce_order(org)
    sender = OrdersToAfas(engine.afas, engine.salesforce, org.state)
    report = sender.run(run_id="out-1")
    assert (report.created, report.failed) == (1, 0)
    (document,) = afas_documents_for(org, order_id)
    assert (document["DocumentType"], document["Administration"], document["Warehouse"]) == ("order", 1, "HOOFD")
    assert (document["PaymentCondition"], document["PaymentMethod"]) == ("14", "IDEAL")
    debtor = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["DebtorId"] == document["DebtorId"])
    assert debtor["CompanyName"] == "Nieuwe Klant B.V." and debtor["ContactLastName"] == "Inkoper"
    assert (debtor["BillingStreet"], debtor["BillingHouseNumber"], debtor["BillingHouseNumberAddition"]) == (
        "Stationsweg",
        12,
        "A",
    )
    lines = [
        line
        for line in org.sandbox.rows("AfasSf_SalesDocumentLines")
        if line["DocumentNumber"] == document["DocumentNumber"] and line["DocumentType"] == "order"
    ]
    assert len(lines) == 2 and all(line["Quantity"] == 2 for line in lines)
    sf_order = plain_salesforce(org.sandbox).Order.get(order_id)
    assert sf_order["AFAS_Order_Number__c"] == document["DocumentNumber"]
    account = plain_salesforce(org.sandbox).Account.get(sf_order["AccountId"])
    assert account["AFAS_Debtor_Id__c"] == document["DebtorId"], "the new debtor flows back onto its account"
    assert sender.run(run_id="out-2").created == 0
    assert len(afas_documents_for(org, order_id)) == 1


def test_person_account_becomes_a_person_debtor_and_known_emails_reuse_the_debtor(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org("multi_currency,person_accounts,state_country_picklists")
    engine = org.engine()
    prepare(engine)
    person_order = salesforce_order(org, person=True, email="eva.smit@example.nl")
    known = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["Email"] and d["CompanyName"])
    debtors_before = len(org.sandbox.rows("AfasSf_Debtors"))
    sf = plain_salesforce(org.sandbox)
    other = sf.Account.create(
        {
            "Name": "Zelfde mail B.V.",
            "BillingStreet": "Nieuwe Gracht 40 bis",
            "BillingPostalCode": "3512 LW",
            "BillingCity": "Utrecht",
        }
    )["id"]
    sf.Contact.create({"AccountId": other, "LastName": "Dezelfde", "Email": known["Email"]})
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    order2 = sf.Order.create(
        {"AccountId": other, "EffectiveDate": "2026-11-27", "Status": "Draft", "Pricebook2Id": standard}
    )["id"]
    sf.Order.update(order2, {"Status": "Activated"})
    report = OrdersToAfas(engine.afas, engine.salesforce, org.state).run(run_id="out")
    assert report.created == 2
    (person_doc,) = afas_documents_for(org, person_order)
    person = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["DebtorId"] == person_doc["DebtorId"])
    assert person["CompanyName"] is None and person["ContactLastName"] == "Smit"
    (known_doc,) = afas_documents_for(org, order2)
    assert known_doc["DebtorId"] == known["DebtorId"], "found by e-mail, not created again"
    updated = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["DebtorId"] == known["DebtorId"])
    assert (
        updated["BillingStreet"],
        updated["BillingHouseNumber"],
        updated["BillingHouseNumberAddition"],
        updated["BillingCity"],
    ) == ("Nieuwe Gracht", 40, "bis", "Utrecht"), "and updated with Salesforce's address"
    assert updated["CompanyName"] == known["CompanyName"], "fields not sent stay as AFAS has them"
    assert len(org.sandbox.rows("AfasSf_Debtors")) == debtors_before + 1


def test_a_product_unknown_to_afas_stops_the_order_with_the_reason(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    order_id = salesforce_order(org)
    sf = plain_salesforce(org.sandbox)
    product = sf.Product2.create({"Name": "Alleen in Salesforce", "IsActive": True})["id"]
    standard = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 1, "IsActive": True}
    )["id"]
    draft = sf.Order.create(
        {
            "AccountId": sf.Order.get(order_id)["AccountId"],
            "EffectiveDate": "2026-11-27",
            "Status": "Draft",
            "Pricebook2Id": standard,
        }
    )["id"]
    sf.OrderItem.create({"OrderId": draft, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 1})
    sf.Order.update(draft, {"Status": "Activated"})
    report = OrdersToAfas(engine.afas, engine.salesforce, org.state).run(run_id="out")
    (failure,) = report.failures
    assert (failure.key, failure.code) == (draft, "PRODUCT_NOT_FROM_AFAS")
    assert "Alleen in Salesforce" in failure.message
    assert afas_documents_for(org, draft) == [] and len(afas_documents_for(org, order_id)) == 1


def test_a_crash_between_the_afas_write_and_the_write_back_never_sends_twice(
    fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    order_id = salesforce_order(org)
    sender = OrdersToAfas(engine.afas, engine.salesforce, org.state)
    original = engine.salesforce.update_by_id

    def crash(sobject: str, records: Any) -> Any:
        if sobject == "Order":
            raise ConnectionError("the process died here")
        return original(sobject, records)

    monkeypatch.setattr(engine.salesforce, "update_by_id", crash)
    with pytest.raises(ConnectionError):
        sender.run(run_id="out-1")
    monkeypatch.setattr(engine.salesforce, "update_by_id", original)
    org.state.reset(AFAS_ORDERS)  # even with the ledger lost, AFAS itself is asked first
    report = sender.run(run_id="out-2")
    assert (report.created, report.counts.get("already_in_afas")) == (0, 1)
    (document,) = afas_documents_for(org, order_id)
    assert plain_salesforce(org.sandbox).Order.get(order_id)["AFAS_Order_Number__c"] == document["DocumentNumber"]


def test_round_trip_ends_with_exactly_one_order_on_each_side(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    prepare(engine)
    order_id = salesforce_order(org)
    sender = OrdersToAfas(engine.afas, engine.salesforce, org.state)
    for run in range(2):
        sender.run(run_id=f"out-{run}")
        engine.run(ORDERS, run_id=f"in-{run}")
        engine.run(CUSTOMERS, run_id=f"customers-{run}")
    (document,) = afas_documents_for(org, order_id)
    mine = [
        o
        for o in org.sandbox.sf_records("Order")
        if o.get("AFAS_Order_Number__c") == document["DocumentNumber"] or o["Id"] == order_id
    ]
    assert [o["Id"] for o in mine] == [order_id], "the AFAS document updates the order it came from"
    assert mine[0]["AFAS_Order_Key__c"] == f"order|{document['DocumentNumber']}"
    accounts = [a for a in org.sandbox.sf_records("Account") if a.get("AFAS_Debtor_Id__c") == document["DebtorId"]]
    assert len(accounts) == 1 and accounts[0]["Id"] == mine[0]["AccountId"], "the debtor came back onto its account"
    from_afas = org.records("Order", "AFAS_Order_Key__c")
    activated = [o for o in from_afas.values() if o.get("AFAS_Origin__c") == "afas"][:1]
    sf = plain_salesforce(org.sandbox)
    for order in activated:
        sf.Order.update(order["Id"], {"Status": "Activated"})
    before = len(org.sandbox.rows("AfasSf_SalesDocuments"))
    sender.run(run_id="out-final")
    assert len(org.sandbox.rows("AfasSf_SalesDocuments")) == before, "an order from AFAS is never sent to AFAS"
