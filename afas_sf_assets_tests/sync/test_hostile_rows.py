"""Hostile AFAS rows, generated per connector with hypothesis, run through every flow: no flow crashes,
every bad row is reported with a reason, every good row arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, FieldType
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.flows.stock import STOCK_FLOW
from afas_sf_assets.sync.engine import record_key
from afas_sf_assets.sync.state import RecordStatus
from afas_sf_assets_tests.conftest import Org

# (connector, the flow that reads it, the key field a hostile row gets a fresh value in)
SOURCES = (
    ("AfasSf_Debtors", CUSTOMERS, "DebtorId"),
    ("AfasSf_Items", PRODUCTS, "ItemCode"),
    ("AfasSf_SalesPrices", PRICES, "ItemCode"),
    ("AfasSf_Stock", STOCK_FLOW, "ItemCode"),
    ("AfasSf_SalesDocuments", ORDERS, "DocumentNumber"),
    ("AfasSf_DeliveryNotes", SHIPMENTS, "DeliveryNoteNumber"),
)
FLOW_ORDER = (CUSTOMERS, PRODUCTS, PRICES, STOCK_FLOW, ORDERS, SHIPMENTS)

text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=5),
    st.sampled_from(["", "   ", "x" * 5000, "javascript:alert(1)", "jörg@bäckerei", "ﬁ\u200b\ufeff", "NUL\x00"]),
)
HOSTILE: dict[FieldType, st.SearchStrategy[Any]] = {
    FieldType.STRING: text,
    FieldType.DECIMAL: st.one_of(
        # JSON carries no NaN or infinity, so AFAS cannot send them; the value checks test those.
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["lots", "1,5", "", 1e20, -10, True]),
    ),
    FieldType.INT: st.one_of(st.integers(min_value=-(2**62), max_value=2**62), st.sampled_from(["twelve", 1.5])),
    FieldType.BOOLEAN: st.sampled_from(["maybe", 2, "", "1"]),
    FieldType.DATE: st.one_of(
        st.sampled_from(
            ["31-12-2026 25:61", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "", "2026-02-30T00:00:00Z"]
        ),
        st.text(max_size=12),
    ),
}


@st.composite
def hostile_rows(draw: st.DrawFn, good: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per connector, copies of good rows under fresh keys with one or two fields made hostile."""
    out: dict[str, list[dict[str, Any]]] = {}
    for connector, _, key_field in SOURCES:
        spec = CONNECTOR_SET[connector]
        fields = [f for f in spec.fields if f.id not in spec.key]
        rows = []
        for number in range(draw(st.integers(min_value=2, max_value=4))):
            row = dict(draw(st.sampled_from(good[connector])))
            row[key_field] = f"HX{number}-{draw(st.integers(min_value=0, max_value=999))}"
            for field in draw(st.lists(st.sampled_from(fields), min_size=1, max_size=2, unique=True)):
                row[field.id] = draw(HOSTILE[field.data_type])
            rows.append(row)
        out[connector] = rows
    return out


def reported_or_arrived(org: Org, flow: str, keys: list[str]) -> list[str]:
    """The keys neither synced, nor refused with a reason in the ledger, nor skipped with one in the log."""
    entries = org.state.entries(flow, keys)
    lost = []
    for key in keys:
        entry = entries.get(key)
        if entry is not None and (entry.status is RecordStatus.SYNCED or entry.error_code):
            continue
        skipped = [a for a in org.state.activity(flow=flow, key=key) if a.outcome == "skipped" and a.error]
        if not skipped:
            lost.append(key)
    return lost


def check(org: Org, hostile: dict[str, list[dict[str, Any]]]) -> None:
    good_items = [r["ItemCode"] for r in org.sandbox.rows("AfasSf_Items")]
    good_debtors = [r["DebtorId"] for r in org.sandbox.rows("AfasSf_Debtors")]
    org.sandbox.upsert_many(hostile)
    engine = org.engine()
    reports = {flow.name: engine.run(flow, run_id="hostile") for flow in FLOW_ORDER}
    assert all(r.status == "ok" for r in reports.values()), reports
    for connector, flow, _ in SOURCES:
        spec = CONNECTOR_SET[connector]
        flow_key = ("ItemCode",) if flow is STOCK_FLOW else spec.key
        keys = sorted({k for k in (record_key(r, flow_key) for r in hostile[connector]) if k})
        assert not reported_or_arrived(org, flow.name, keys), f"{flow.name}: rows neither sent nor reported"
    products = org.records()
    assert all(code in products for code in good_items), "every good item arrives"
    synced = {e.key for e in org.state.iter_entries("customers", [RecordStatus.SYNCED])}
    assert set(good_debtors) <= synced, "every good debtor arrives"


def test_hostile_rows_never_stop_a_flow(fresh_org: Callable[..., Org]) -> None:
    started: list[Org] = []

    @settings(
        max_examples=3,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        org = fresh_org()
        started.append(org)
        good = {connector: org.sandbox.rows(connector) for connector, _, _ in SOURCES}
        check(org, data.draw(hostile_rows(good)))

    run()
    assert len(started) == 3
