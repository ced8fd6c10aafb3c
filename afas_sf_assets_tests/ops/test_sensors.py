"""Sensors through build_sensor_context: no change → skip; a change → a run of exactly the affected targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC

import dagster as dg
import pytest

from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.afas.dates import parse_afas_datetime
from afas_sf_assets.definitions import build_resources
from afas_sf_assets.defs.afas_sources import DATA_VERSION_TAG, source_version
from afas_sf_assets.defs.afas_targets import AFAS_ORDERS_KEY
from afas_sf_assets.defs.sensors import afas_changes, salesforce_orders
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce


def names(result: dg.SensorResult) -> set[str]:
    (request,) = result.run_requests or []
    return {key.path[-1] for key in request.asset_selection or []}


@pytest.fixture
def org_env(fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    yield org


def evaluate(sensor: dg.SensorDefinition, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
        return sensor(context)


def test_afas_sensor_requests_exactly_the_affected_targets(org_env: Org) -> None:
    first = evaluate(afas_changes, None)
    assert isinstance(first, dg.SensorResult) and first.cursor
    assert "products" in names(first) and "customers" in names(first), "a first probe syncs everything"
    observed = {event.asset_key.path[-1]: event for event in first.asset_events}
    assert set(observed) == {spec.id for spec in CONNECTOR_SET.values() if spec.modified_field}, "sources observed"
    newest = max(r["ModifiedDate"] for r in org_env.sandbox.rows("AfasSf_Items"))
    version = observed["AfasSf_Items"].tags[DATA_VERSION_TAG]
    assert version.startswith(parse_afas_datetime(newest).astimezone(UTC).isoformat() + "#"), version

    again = evaluate(afas_changes, first.cursor)  # a restarted daemon hands the stored cursor back
    assert isinstance(again, dg.SkipReason)

    item = org_env.sandbox.rows("AfasSf_Items")[0]["ItemCode"]
    org_env.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Description": "Gewijzigd in AFAS"}])
    changed = evaluate(afas_changes, first.cursor)
    assert isinstance(changed, dg.SensorResult)
    assert names(changed) == {"products", "product_relations", "prices", "stock", "orders", "shipments"}
    assert changed.cursor != first.cursor

    org_env.sandbox.upsert(
        "AfasSf_Debtors", [{"DebtorId": org_env.sandbox.rows("AfasSf_Debtors")[0]["DebtorId"], "Phone": "010-0000000"}]
    )
    customers = evaluate(afas_changes, changed.cursor)
    assert isinstance(customers, dg.SensorResult)
    assert names(customers) == {"customers", "prices", "orders", "shipments"}


def test_two_changes_sharing_a_timestamp_are_both_seen(org_env: Org) -> None:
    stamp = "2026-11-28T09:00:00Z"
    first_item, second_item = [i["ItemCode"] for i in org_env.sandbox.rows("AfasSf_Items")[:2]]
    org_env.sandbox.upsert(
        "AfasSf_Items", [{"ItemCode": first_item, "Description": "A", "ModifiedDate": stamp}], touch=False
    )
    seen = evaluate(afas_changes, None)
    assert isinstance(seen, dg.SensorResult)
    org_env.sandbox.upsert(
        "AfasSf_Items", [{"ItemCode": second_item, "Description": "B", "ModifiedDate": stamp}], touch=False
    )
    same_second = evaluate(afas_changes, seen.cursor)
    assert isinstance(same_second, dg.SensorResult) and "products" in names(same_second)


def test_salesforce_order_sensor(org_env: Org) -> None:
    cursor = None
    idle = evaluate(salesforce_orders, cursor)
    assert not (isinstance(idle, dg.SensorResult) and idle.run_requests)
    sf = plain_salesforce(org_env.sandbox)
    account = sf.Account.create({"Name": "Sensor B.V."})["id"]
    order = sf.Order.create({"AccountId": account, "EffectiveDate": "2026-11-28", "Status": "Draft"})["id"]
    assert not (isinstance(r := evaluate(salesforce_orders, cursor), dg.SensorResult) and r.run_requests), (
        "a Draft order is not sent"
    )
    sf.Order.update(order, {"Status": "Activated"})
    requested = evaluate(salesforce_orders, cursor)
    assert isinstance(requested, dg.SensorResult)
    assert [list(r.asset_selection or []) for r in requested.run_requests] == [[AFAS_ORDERS_KEY]]
    assert isinstance(evaluate(salesforce_orders, requested.cursor), dg.SkipReason)
    from_afas = sf.Order.create(
        {"AccountId": account, "EffectiveDate": "2026-11-28", "Status": "Draft", "AFAS_Origin__c": "afas"}
    )["id"]
    sf.Order.update(from_afas, {"Status": "Activated"})
    assert from_afas and isinstance(evaluate(salesforce_orders, requested.cursor), dg.SkipReason), (
        "an order that came from AFAS never triggers a send"
    )


@pytest.mark.parametrize(
    ("afas_time", "utc"),
    [
        ("2026-07-01T10:00:00Z", "2026-07-01T08:00:00+00:00"),  # summer: Amsterdam is UTC+2
        ("2026-01-15T10:00:00Z", "2026-01-15T09:00:00+00:00"),  # winter: UTC+1
    ],
)
def test_a_source_version_is_the_real_moment_of_afas_local_time(afas_time: str, utc: str) -> None:
    # AFAS writes its local time with a Z; the data version says what moment that really was.
    assert source_version({"at": afas_time, "digest": "abc"}) == f"{utc}#abc"
    assert source_version(None) == "empty"
