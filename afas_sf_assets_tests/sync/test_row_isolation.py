"""No value in one AFAS row fails more than that row: each case is quarantined or failed with its field,
and the flow and its other rows go on; keys Salesforce would merge are held back, never merged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.flows.stock import STOCK_FLOW
from afas_sf_assets.sync.flow import Flow
from afas_sf_assets_tests.conftest import Org


def first(org: Org, connector: str, **where: Any) -> dict[str, Any]:
    return next(r for r in org.sandbox.rows(connector) if all(r.get(k) == v for k, v in where.items()))


CASES = [
    # (what, flow, connector, change, key fields, expected code, expected field)
    (
        "an impossible date",
        PRODUCTS,
        "AfasSf_Items",
        {"ModifiedDate": "31-12-2026 25:61"},
        "INVALID_VALUE",
        "ModifiedDate",
    ),
    ("a NUL in a name", PRODUCTS, "AfasSf_Items", {"Description": "Shirt\x00 blauw"}, "INVALID_CHARACTER", "Name"),
    (
        "a description of 100,000 characters",
        PRODUCTS,
        "AfasSf_Items",
        {"LongDescription": "x" * 100_000},
        "STRING_TOO_LONG",
        "Description",
    ),
    (
        "a weight of 1e20",
        PRODUCTS,
        "AfasSf_Items",
        {"WeightKg": 1e20},
        "NUMBER_OUTSIDE_VALID_RANGE",
        "AFAS_Weight_Kg__c",
    ),
    (
        "a VAT rate of -100 %",
        PRICES,
        "AfasSf_SalesPrices",
        {"PriceInclVat": True, "VatPercentage": -100},
        "MAPPING",
        "UnitPrice",
    ),
    ("a price of 1e20", PRICES, "AfasSf_SalesPrices", {"Price": 1e20}, "NUMBER_OUTSIDE_VALID_RANGE", "UnitPrice"),
    ("stock that is no number", STOCK_FLOW, "AfasSf_Stock", {"Available": "lots"}, "INVALID_VALUE", "StockQuantity"),
    (
        "a javascript: tracking URL",
        SHIPMENTS,
        "AfasSf_DeliveryNotes",
        {"TrackTraceUrl": "javascript:alert(1)"},
        "INVALID_URL",
        "Tracking_Url__c",
    ),
    (
        "a delivery date in year 1",
        SHIPMENTS,
        "AfasSf_DeliveryNotes",
        {"DeliveryDate": "0001-01-01T00:00:00Z"},
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "Delivery_Date__c",
    ),
]


@pytest.mark.parametrize(("what", "flow", "connector", "change", "code", "field"), CASES, ids=[c[0] for c in CASES])
def test_one_bad_value_fails_its_row_only(
    fresh_org: Callable[..., Org],
    what: str,
    flow: Flow,
    connector: str,
    change: dict[str, Any],
    code: str,
    field: str,
) -> None:
    org = fresh_org()
    engine = org.engine()
    before = {"products": (CUSTOMERS,), "prices": (CUSTOMERS, PRODUCTS), "stock": (PRODUCTS,)}.get(
        flow.name, (CUSTOMERS, PRODUCTS, PRICES, ORDERS)
    )
    for earlier in before:
        engine.run(earlier, run_id="setup")
    row = org.sandbox.rows(connector)[0]
    org.sandbox.upsert(connector, [{**row, **change}], touch=False)
    report = engine.run(flow, run_id="run")
    bad = [f for f in report.failures if f.code == code]
    assert bad, f"{what}: no {code} among {report.failures}"
    assert field in (bad[0].field or ""), bad[0]
    assert report.failed + report.quarantined == 1, f"{what}: only that row fails ({report.failures})"
    assert report.created + report.updated + report.unchanged + report.counts.get("skipped", 0) >= report.read - 1


def test_keys_salesforce_would_merge_are_both_held_back(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    item = org.sandbox.rows("AfasSf_Items")[0]
    twins = [{**item, "ItemCode": "CASE-1", "ImageId": None}, {**item, "ItemCode": "case-1", "ImageId": None}]
    blank = [{**item, "ItemCode": "X", "ImageId": None}, {**item, "ItemCode": "X ", "ImageId": None}]
    org.sandbox.upsert("AfasSf_Items", twins + blank)
    report = engine.run(PRODUCTS, run_id="run-1")
    held = {f.key: f for f in report.failures if f.code == "KEY_COLLISION"}
    assert set(held) == {"CASE-1", "case-1", "X", "X "}
    assert "'case-1'" in held["CASE-1"].message
    products = org.records()
    assert not {"CASE-1", "case-1", "X", "X "} & set(products), "neither overwrites the other"
    org.sandbox.delete("AfasSf_Items", {"ItemCode": "case-1"})
    again = engine.run(PRODUCTS, run_id="run-2")
    assert "CASE-1" in org.records() and not [f for f in again.failures if f.key == "CASE-1"]
