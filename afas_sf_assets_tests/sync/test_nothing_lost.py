"""A record is synced only when all of it is: children that fail (or never get their turn) are finished by
the next normal run, and only they; every child outcome is checked; a child's own change is a change."""

from __future__ import annotations

from collections.abc import Callable

from afas_sf_assets.flows.catalog import CATEGORIES, PRODUCTS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.state import RecordStatus
from afas_sf_assets_tests.conftest import FAST_RETRY, Org


def test_images_lost_to_an_afas_outage_arrive_on_the_next_normal_run(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    with_image = [i["ItemCode"] for i in org.sandbox.rows("AfasSf_Items") if i.get("ImageId")]
    # Every image download fails for longer than the client retries.
    org.sandbox.set_faults(fail_next=[{"status": 500, "match": "ImageConnector"}] * 400)
    first = engine.run(PRODUCTS, run_id="run-1")
    org.sandbox.set_faults()
    assert first.created == len(org.sandbox.rows("AfasSf_Items")), "the products themselves are written"
    assert first.partial == len(with_image) and not org.sandbox.sf_records("ContentVersion")
    entries = org.state.entries("products", with_image)
    assert {e.status for e in entries.values()} == {RecordStatus.PARTIAL}
    prices = engine.run(PRICES, run_id="prices-1")
    assert not [f for f in prices.failures if f.code == "WAITING"], "a product lacking only its image has prices"
    second = engine.run(PRODUCTS, run_id="run-2")
    assert (second.created, second.updated, second.partial) == (0, 0, 0), "the products are not written again"
    assert second.counts["resumed"] == len(with_image) and second.counts["images"] == len(with_image)
    assert len(org.sandbox.sf_records("ContentVersion")) == len(with_image)
    assert {e.status for e in org.state.entries("products", with_image).values()} == {RecordStatus.SYNCED}


def test_refused_order_lines_keep_the_order_due_until_they_arrive(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    for flow in (CUSTOMERS, PRODUCTS, PRICES):
        engine.run(flow, run_id="setup")
    org.sandbox.sf_put(
        "faults",
        {"fail_next": [{"status": 400, "errorCode": "INVALID_BATCH", "match": "OrderItem", "method": "PATCH"}]},
    )
    first = engine.run(ORDERS, run_id="run-1")
    assert first.created > 0 and first.partial > 0
    (failure, *_) = [f for f in first.failures if f.outcome == "partial"]
    assert failure.field == "order_lines"
    lines_before = len(org.sandbox.sf_records("OrderItem"))
    second = engine.run(ORDERS, run_id="run-2")
    assert (second.created, second.updated, second.partial) == (0, 0, 0)
    assert len(org.sandbox.sf_records("OrderItem")) > lines_before
    third = engine.run(ORDERS, run_id="run-3")
    assert third.counts.get("resumed", 0) == 0 and third.counts.get("lines", 0) == 0, "nothing left to do"


def test_a_line_salesforce_refuses_is_reported_with_the_child_and_retried(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    for flow in (CUSTOMERS, PRODUCTS, PRICES):
        engine.run(flow, run_id="setup")
    document = next(
        d
        for d in org.sandbox.rows("AfasSf_SalesDocumentLines")
        if d["DocumentType"] == "order" and d["LineNumber"] == 1
    )
    org.sandbox.upsert(
        "AfasSf_SalesDocumentLines",
        [{**document, "Quantity": 1e17}],  # beyond OrderItem.Quantity's 18,2: Salesforce refuses that line
    )
    report = engine.run(ORDERS, run_id="run-1")
    key = f"order|{document['DocumentNumber']}"
    (failure,) = [f for f in report.failures if f.key == key]
    assert (failure.outcome, failure.code, failure.field) == (
        "partial",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "OrderItem.Quantity",
    )
    assert org.state.entries("orders", [key])[key].status is RecordStatus.PARTIAL
    org.sandbox.upsert("AfasSf_SalesDocumentLines", [{**document, "Quantity": 2}])
    engine.run(ORDERS, run_id="run-2")
    assert org.state.entries("orders", [key])[key].status is RecordStatus.SYNCED
    lines = [r for r in org.sandbox.sf_records("OrderItem") if r["AFAS_Line_Key__c"] == f"{key}|1"]
    assert [r["Quantity"] for r in lines] == [2.0]


def test_a_shipment_line_for_an_unknown_product_keeps_the_note_waiting(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    for flow in (CUSTOMERS, PRODUCTS, PRICES, ORDERS):
        engine.run(flow, run_id="setup")
    line = org.sandbox.rows("AfasSf_DeliveryNoteLines")[0]
    org.sandbox.upsert("AfasSf_DeliveryNoteLines", [{**line, "ItemCode": "NOG-NIET"}])
    report = engine.run(SHIPMENTS, run_id="run-1")
    note = str(line["DeliveryNoteNumber"])
    (failure,) = [f for f in report.failures if f.key == note]
    assert (failure.code, failure.outcome) == ("WAITING", "partial") and "NOG-NIET" in failure.message
    assert org.state.entries("shipments", [note])[note].status is RecordStatus.PARTIAL


def test_a_change_to_the_contact_person_alone_reaches_salesforce(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(CUSTOMERS, run_id="run-1")
    debtor = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["CompanyName"])
    org.sandbox.upsert("AfasSf_Debtors", [{"DebtorId": debtor["DebtorId"], "ContactLastName": "Nieuwenhuis"}])
    report = engine.run(CUSTOMERS, run_id="run-2")
    assert report.updated == 1
    contact = org.records("Contact", "AFAS_Contact_Key__c")[debtor["DebtorId"]]
    assert contact["LastName"] == "Nieuwenhuis"


def test_an_expired_session_is_renewed_on_the_bulk_path(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    with SalesforceClient(org.sandbox.sf_settings(bulk_threshold=2000), retry=FAST_RETRY) as client:
        client.count("SELECT COUNT() FROM Product2")  # logged in
        org.sandbox.sf_control.delete("sessions").raise_for_status()
        records = [{"AFAS_Item_Code__c": f"BULK-{n:05d}", "Name": f"Bulk {n}"} for n in range(2100)]
        outcomes = client.upsert("Product2", "AFAS_Item_Code__c", records)
    assert all(o.success for o in outcomes) and len(outcomes) == 2100


def test_one_salesforce_503_on_a_describe_is_retried_not_fatal(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    org.sandbox.sf_put("faults", {"fail_next": [{"status": 503, "match": "/sobjects", "method": "GET"}]})
    report = org.engine().run(CATEGORIES, run_id="run")
    assert report.status == "skipped" and "no ProductCategory" in (report.note or "")


def test_a_changed_delivery_note_line_alone_reaches_salesforce(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    for flow in (CUSTOMERS, PRODUCTS, PRICES, ORDERS, SHIPMENTS):
        engine.run(flow, run_id="setup")
    line = org.sandbox.rows("AfasSf_DeliveryNoteLines")[0]
    note = next(
        n for n in org.sandbox.rows("AfasSf_DeliveryNotes") if n["DeliveryNoteNumber"] == line["DeliveryNoteNumber"]
    )
    org.sandbox.upsert("AfasSf_DeliveryNoteLines", [{**line, "Quantity": 99}])
    org.sandbox.upsert("AfasSf_DeliveryNotes", [{"DeliveryNoteNumber": note["DeliveryNoteNumber"]}])  # edited in AFAS
    report = engine.run(SHIPMENTS, run_id="run-2")
    assert report.updated == 1
    key = f"{line['DeliveryNoteNumber']}|{line['LineNumber']}"
    (shipped,) = [r for r in org.sandbox.sf_records("AFAS_Shipment_Line__c") if r["AFAS_Line_Key__c"] == key]
    assert shipped["Quantity__c"] == 99
