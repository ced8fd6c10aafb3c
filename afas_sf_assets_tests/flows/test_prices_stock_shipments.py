"""Prices, stock and shipments end to end, each rule with a test that fails when the rule is broken."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS, order_key
from afas_sf_assets.flows.stock import CALCULATIONS, STOCK_FLOW
from afas_sf_assets.salesforce.bulk_job import BulkUpsertJob
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce


def catalog_and_customers(engine: SyncEngine) -> None:
    engine.run(PRODUCTS, run_id="setup")
    engine.run(CUSTOMERS, run_id="setup")


def test_every_price_lands_in_its_groups_book_with_the_standard_entry(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    catalog_and_customers(engine)
    report = engine.run(PRICES, run_id="run")
    assert report.failed == 0 and report.waiting == 0
    prices = org.sandbox.rows("AfasSf_SalesPrices")
    books = org.records("Pricebook2", "AFAS_Price_Group__c")
    assert set(books) == {p["PriceGroup"] for p in prices}
    entries = org.records("PricebookEntry", "AFAS_Price_Key__c")
    products = org.records("Product2", "AFAS_Item_Code__c")
    standard_book = next(b["Id"] for b in org.sandbox.sf_records("Pricebook2") if b.get("IsStandard"))
    standard_rows = {(p["ItemCode"], p["CurrencyId"]): p for p in prices if p["PriceGroup"] == "STANDAARD"}
    for price in prices:
        entry = entries[f"{price['PriceGroup']}|{price['ItemCode']}|{price['CurrencyId']}"]
        assert entry["Pricebook2Id"] == books[price["PriceGroup"]]["Id"]
        assert entry["Product2Id"] == products[price["ItemCode"]]["Id"]
        assert entry["CurrencyIsoCode"] == price["CurrencyId"] and entry["IsActive"] is True
        expected = price["Price"] / (1 + price["VatPercentage"] / 100) if price["PriceInclVat"] else price["Price"]
        assert entry["UnitPrice"] == pytest.approx(expected, abs=0.005), "prices go excl. VAT"
        standard = entries[f"~STANDARD|{price['ItemCode']}|{price['CurrencyId']}"]
        assert standard["Pricebook2Id"] == standard_book
        if (price["ItemCode"], price["CurrencyId"]) in standard_rows:
            assert standard["UnitPrice"] == standard_rows[(price["ItemCode"], price["CurrencyId"])]["Price"]
    assert report.created == len(prices) + len({(p["ItemCode"], p["CurrencyId"]) for p in prices})
    # Pages of 100: the prices, the price groups, and the standard group's prices read once, not per item.
    pages = math.ceil(len(prices) / 100) + 1 + math.ceil(len(standard_rows) / 100)
    assert report.afas_calls <= 1.2 * pages, (report.afas_calls, pages)
    org.sandbox.sf_control.delete("calls")
    engine.run(PRICES, run_id="again")
    assert org.writes() == {}, "a second run without changes makes no write call"


def test_prices_through_one_bulk_job_per_pass_put_each_standard_entry_first_once(
    fresh_org: Callable[..., Org],
) -> None:
    """Batches of 100 at a bulk threshold of 20: every batch goes to the run's jobs. A group price whose
    standard entry came in an earlier batch does not add it again, nor wait: that entry's job goes first."""
    org = fresh_org()
    catalog_and_customers(org.engine())
    engine = org.engine(batch_size=100, bulk_threshold=20)
    org.sandbox.sf_control.delete("calls")
    report = engine.run(PRICES, run_id="run")
    prices = org.sandbox.rows("AfasSf_SalesPrices")
    assert report.failed == 0 and report.waiting == 0
    assert report.created == len(prices) + len({(p["ItemCode"], p["CurrencyId"]) for p in prices})
    assert org.sandbox.sf_calls()["by_endpoint"]["POST jobs"] == 2, "the standard entries' job, then the groups'"
    entries = org.records("PricebookEntry", "AFAS_Price_Key__c")
    assert len(entries) == report.created


def test_a_bulk_job_a_killed_run_left_running_is_waited_for_by_the_next_run(
    fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while Salesforce still writes its job: were the next run to read the org before that job is
    done, it would send the same price book entries as new, with the fields Salesforce lets only a new
    entry have (Pricebook2Id), and be refused."""
    org = fresh_org()
    catalog_and_customers(org.engine())
    org.sandbox.sf_put("faults", {"bulk_job_seconds": 2})

    def killed(self: BulkUpsertJob) -> None:
        raise KeyboardInterrupt("killed")  # once the job is closed: Salesforce goes on writing it

    monkeypatch.setattr(BulkUpsertJob, "_wait", killed)
    monkeypatch.setattr(BulkUpsertJob, "_abort", lambda self: None)  # a killed process aborts nothing
    with pytest.raises(KeyboardInterrupt):
        org.engine(batch_size=100, bulk_threshold=20).run(PRICES, run_id="killed")
    monkeypatch.undo()
    assert org.records("PricebookEntry", "AFAS_Price_Key__c") == {}, "the job still waits in Salesforce's queue"
    report = org.engine(batch_size=100, bulk_threshold=20).run(PRICES, run_id="next")
    assert report.failed == 0, report.failures[:3]
    prices = org.sandbox.rows("AfasSf_SalesPrices")
    standards = len({(p["ItemCode"], p["CurrencyId"]) for p in prices})
    assert report.updated == standards and report.created == len(prices), "the standard entries were there"
    jobs = [job["id"] for job in plain_salesforce(org.sandbox).restful("jobs/ingest")["records"]]
    assert not org.state.entries("prices.bulk_jobs", jobs), "the jobs' ledger is empty once they are recorded"


def test_price_waits_for_its_product_and_its_price_group(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    item = org.sandbox.rows("AfasSf_SalesPrices")[0]["ItemCode"]
    org.sandbox.upsert(
        "AfasSf_SalesPrices",
        [
            {
                "PriceGroup": "ONBEKEND",
                "ItemCode": item,
                "CurrencyId": "EUR",
                "Price": 5.0,
                "PriceInclVat": False,
                "VatPercentage": 21.0,
            }
        ],
    )
    early = engine.run(PRICES, run_id="before-products")
    assert early.waiting == len(org.sandbox.rows("AfasSf_SalesPrices")) and early.created == 0
    waiting = org.state.entry("prices", f"STANDAARD|{item}|EUR")
    assert waiting is not None and waiting.error_message == f"product {item} is not in Salesforce yet"
    unknown = org.state.entry("prices", f"ONBEKEND|{item}|EUR")
    assert unknown is not None and unknown.error_message == "price group ONBEKEND does not exist in AFAS"
    assert org.records("PricebookEntry", "AFAS_Price_Key__c") == {}
    engine.run(PRODUCTS, run_id="products")
    later = engine.run(PRICES, run_id="after-products")
    assert later.created > 0 and [f.key for f in later.failures] == [f"ONBEKEND|{item}|EUR"]


def test_customer_carries_its_price_group(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    catalog_and_customers(engine)
    engine.run(PRICES, run_id="run")
    debtor = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["CompanyName"])
    account = org.records("Account", "AFAS_Debtor_Id__c")[debtor["DebtorId"]]
    book = org.records("Pricebook2", "AFAS_Price_Group__c")[debtor["PriceGroup"]]
    assert account["AFAS_Price_Group__c"] == book["AFAS_Price_Group__c"]


def expected_stock(org: Org, calculation: str, warehouses: list[str] | None = None) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in org.sandbox.rows("AfasSf_Stock"):
        if not warehouses or row["Warehouse"] in warehouses:
            totals[row["ItemCode"]] = round(totals.get(row["ItemCode"], 0.0) + CALCULATIONS[calculation](row), 3)
        else:
            totals.setdefault(row["ItemCode"], 0.0)
    return totals


def test_stock_is_the_configured_calculation_over_the_afas_rows(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(PRODUCTS, run_id="products")
    report = engine.run(STOCK_FLOW, run_id="stock")
    managed = {i["ItemCode"]: i["ManageStock"] for i in org.sandbox.rows("AfasSf_Items")}
    products = org.records("Product2", "AFAS_Item_Code__c")
    expected = expected_stock(org, "available_minus_reserved")
    for code, quantity in expected.items():
        if managed[code] is False:
            assert products[code].get("AFAS_Stock__c") is None
        else:
            assert products[code]["AFAS_Stock__c"] == pytest.approx(quantity)
    assert report.counts["skipped"] == sum(1 for code in expected if managed[code] is False) > 0
    assert any(sum(1 for r in org.sandbox.rows("AfasSf_Stock") if r["ItemCode"] == c) > 1 for c in expected), (
        "some SKUs are in two warehouses, so the sum is tested"
    )


def test_another_calculation_and_a_warehouse_filter(fresh_org: Callable[..., Org], tmp_path: Any) -> None:
    org = fresh_org()
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS

    for path in DEFAULT_MAPPINGS.glob("*.yaml"):
        text = path.read_text()
        if path.name == "stock.yaml":
            text = text.replace("calculation: available_minus_reserved", "calculation: physical").replace(
                "warehouses: []", "warehouses: [HOOFD]"
            )
        (mappings / path.name).write_text(text)
    engine = org.engine()
    engine.mappings_dir = mappings
    engine.run(PRODUCTS, run_id="products")
    engine.run(STOCK_FLOW, run_id="stock")
    managed = {i["ItemCode"]: i["ManageStock"] for i in org.sandbox.rows("AfasSf_Items")}
    products = org.records("Product2", "AFAS_Item_Code__c")
    for code, quantity in expected_stock(org, "physical", ["HOOFD"]).items():
        if managed[code] is not False:
            assert products[code]["AFAS_Stock__c"] == pytest.approx(quantity)


def test_only_changed_quantities_are_sent_and_a_change_in_one_warehouse_counts_all(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(PRODUCTS, run_id="products")
    engine.run(STOCK_FLOW, run_id="stock-1")
    rows = org.sandbox.rows("AfasSf_Stock")
    managed = {i["ItemCode"]: i["ManageStock"] for i in org.sandbox.rows("AfasSf_Items")}
    code = next(
        c
        for c in {r["ItemCode"] for r in rows}
        if managed[c] is not False and sum(1 for r in rows if r["ItemCode"] == c) == 2
    )
    row = next(r for r in rows if r["ItemCode"] == code and r["Warehouse"] == "ZUID")
    org.sandbox.upsert("AfasSf_Stock", [{"ItemCode": code, "Warehouse": "ZUID", "Available": row["Available"] + 10}])
    org.sandbox.sf_control.delete("calls")
    report = engine.run(STOCK_FLOW, run_id="stock-2")
    assert (report.updated, report.created) == (1, 0)
    assert org.writes() == {"PATCH composite": 1}
    assert org.records("Product2", "AFAS_Item_Code__c")[code]["AFAS_Stock__c"] == pytest.approx(
        expected_stock(org, "available_minus_reserved")[code]
    )
    org.sandbox.sf_control.delete("calls")
    engine.run(STOCK_FLOW, run_id="stock-3")
    assert org.writes() == {}


def test_stock_waits_for_its_product(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    report = org.engine().run(STOCK_FLOW, run_id="stock")
    assert report.waiting > 0 and report.created == 0
    assert all("is not in Salesforce yet" in f.message for f in report.failures)


def test_product_items_per_location_where_field_service_exists(fresh_org: Callable[..., Org], tmp_path: Any) -> None:
    org = fresh_org("multi_currency,field_service")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS

    for path in DEFAULT_MAPPINGS.glob("*.yaml"):
        text = path.read_text().replace("product_items: false", "product_items: true")
        (mappings / path.name).write_text(text)
    engine = org.engine()
    engine.mappings_dir = mappings
    engine.run(PRODUCTS, run_id="products")
    engine.run(STOCK_FLOW, run_id="stock")
    items = org.records("ProductItem", "AFAS_Stock_Key__c")
    locations = org.records("Location", "AFAS_Warehouse__c")
    managed = {i["ItemCode"]: i["ManageStock"] for i in org.sandbox.rows("AfasSf_Items")}
    for row in org.sandbox.rows("AfasSf_Stock"):
        if managed[row["ItemCode"]] is False:
            continue
        item = items[f"{row['ItemCode']}|{row['Warehouse']}"]
        assert item["LocationId"] == locations[row["Warehouse"]]["Id"]
        assert item["QuantityOnHand"] == pytest.approx(CALCULATIONS["available_minus_reserved"](row))


def make_orders(org: Org) -> dict[str, str]:
    """Orders as the orders flow puts them in Salesforce (keyed by AFAS order number)."""
    sf = plain_salesforce(org.sandbox)
    accounts = org.records("Account", "AFAS_Debtor_Id__c")
    ids = {}
    for note in org.sandbox.rows("AfasSf_DeliveryNotes"):
        number = note["OrderNumber"]
        if number in ids:
            continue
        account = accounts.get(note["DebtorId"]) or next(iter(accounts.values()))
        ids[number] = sf.Order.create(
            {
                "AccountId": account["Id"],
                "EffectiveDate": "2026-11-01",
                "Status": "Draft",
                "AFAS_Order_Key__c": order_key(number),
            }
        )["id"]
    return ids


@pytest.mark.parametrize("features", ["multi_currency", "multi_currency,shipment"])
def test_split_deliveries_give_one_shipment_each_with_their_own_lines(
    fresh_org: Callable[..., Org], features: str
) -> None:
    org = fresh_org(features)
    engine = org.engine()
    catalog_and_customers(engine)
    notes = org.sandbox.rows("AfasSf_DeliveryNotes")
    waiting = engine.run(SHIPMENTS, run_id="before-orders")
    assert waiting.waiting == len(notes) and waiting.failures[0].message.endswith("is not in Salesforce yet")
    orders = make_orders(org)
    report = engine.run(SHIPMENTS, run_id="after-orders")
    assert report.created == len(notes) and report.failed == 0
    shipment, line = (
        ("Shipment", "ShipmentItem") if "shipment" in features else ("AFAS_Shipment__c", "AFAS_Shipment_Line__c")
    )
    shipments = org.records(shipment, "AFAS_Delivery_Note__c")
    order_field = "AFAS_Order__c" if shipment == "Shipment" else "Order__c"
    parts: dict[str, int] = {}
    for note in notes:
        record = shipments[note["DeliveryNoteNumber"]]
        assert record[order_field] == orders[note["OrderNumber"]]
        tracking = record.get("TrackingNumber") or record.get("Tracking_Number__c")
        assert tracking == note["TrackTraceCode"]
        parts[note["OrderNumber"]] = parts.get(note["OrderNumber"], 0) + 1
    assert max(parts.values()) >= 2, "an order delivered in several parts"
    lines = org.records(line, "AFAS_Line_Key__c")
    parent = "ShipmentId" if shipment == "Shipment" else "Shipment__c"
    for afas_line in org.sandbox.rows("AfasSf_DeliveryNoteLines"):
        record = lines[f"{afas_line['DeliveryNoteNumber']}|{afas_line['LineNumber']}"]
        assert record[parent] == shipments[afas_line["DeliveryNoteNumber"]]["Id"]
    if shipment == "Shipment":
        assert {s["Provider"] for s in shipments.values()} <= {"PostNL", "DHL", "DPD", "UPS", "GLS", "FedEx", "Other"}
    org.sandbox.sf_control.delete("calls")
    engine.run(SHIPMENTS, run_id="again")
    assert org.writes() == {}
