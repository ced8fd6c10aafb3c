"""Sensors through build_sensor_context: no change → skip; a change → a run of exactly the affected targets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.afas.dates import parse_afas_datetime
from afas_sf_assets.definitions import build_resources
from afas_sf_assets.defs.afas_sources import DATA_VERSION_TAG, source_version
from afas_sf_assets.defs.afas_targets import AFAS_ORDERS_KEY
from afas_sf_assets.defs.sensors import WAITING_SENSOR_BY_FILE, afas_changes, affected_targets
from afas_sf_assets.flows.registry import ORDERS_TO_AFAS_FILE
from afas_sf_assets.headless import sync
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce

salesforce_orders = WAITING_SENSOR_BY_FILE[ORDERS_TO_AFAS_FILE]


def names(result: dg.SensorResult) -> set[str]:
    (request,) = result.run_requests or []
    return {key.path[-1] for key in request.asset_selection or []}


@pytest.fixture
def org_env(fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    yield org


def evaluate(
    sensor: dg.SensorDefinition, cursor: str | None, instance: dg.DagsterInstance | None = None
) -> dg.SensorResult | dg.SkipReason:
    if instance is not None:
        # The resources hold a client per run (setup and teardown), so the context is opened as Dagster does.
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources()) as context:
            return sensor(context)
    with dg.instance_for_test() as fresh:
        return evaluate(sensor, cursor, fresh)


def requested(result: dg.SensorResult | dg.SkipReason) -> bool:
    return isinstance(result, dg.SensorResult) and bool(result.run_requests)


def change_an_item(org: Org, description: str) -> None:
    item = org.sandbox.rows("AfasSf_Items")[0]["ItemCode"]
    org.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Description": description}])


def test_a_new_sensor_does_not_resync_what_a_sync_already_read(
    org_env: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert sync().success
    with dg.DagsterInstance.get() as instance:
        first = evaluate(afas_changes, None, instance)  # a daemon started for the first time
        assert not requested(first), "nothing changed in AFAS since the sync"
        change_an_item(org_env, "Gewijzigd na de sync")
        second = evaluate(afas_changes, first.cursor if isinstance(first, dg.SensorResult) else None, instance)
    assert isinstance(second, dg.SensorResult) and "products" in names(second) and "customers" not in names(second)


def test_a_change_whose_run_failed_is_requested_once_more_and_not_again(org_env: Org) -> None:
    with dg.instance_for_test() as instance:
        first = evaluate(afas_changes, None, instance)
        assert isinstance(first, dg.SensorResult) and "products" in names(first)
        # Its run failed before materialising anything: the targets never recorded the versions it saw.
        again = evaluate(afas_changes, first.cursor, instance)
        assert isinstance(again, dg.SensorResult) and names(again) == names(first)
        (request,) = again.run_requests or []
        assert "AfasSf_Items" in request.tags["afas-sf/requested-again"].split(",")
        third = evaluate(afas_changes, again.cursor, instance)
        assert not requested(third), "once more, not on every tick: a flow that keeps failing does not storm"
        change_an_item(org_env, "Gewijzigd na twee mislukte runs")
        fourth = evaluate(afas_changes, third.cursor if isinstance(third, dg.SensorResult) else again.cursor, instance)
    assert isinstance(fourth, dg.SensorResult) and "products" in names(fourth), "a new change is asked for as ever"


def test_a_change_waits_for_the_run_syncing_its_targets_and_a_queued_run_covers_it(org_env: Org) -> None:
    products = dg.AssetKey(["salesforce", "products"])
    with dg.instance_for_test() as instance:
        first = evaluate(afas_changes, None, instance)
        assert isinstance(first, dg.SensorResult) and first.cursor
        (first_request,) = first.run_requests or []
        under_way = create_run_for_test(  # the run the daemon made of that request
            instance,
            "__ephemeral_asset_job__",
            status=dg.DagsterRunStatus.STARTED,
            asset_selection=frozenset(first_request.asset_selection or ()),
        )
        assert products in (first_request.asset_selection or ())
        change_an_item(org_env, "Gewijzigd tijdens een run")
        held = evaluate(afas_changes, first.cursor, instance)
        assert isinstance(held, dg.SkipReason), "no second run of a flow while one is under way"
        assert under_way.run_id in (held.skip_message or "")

        instance.report_run_failed(under_way)  # the run ended: now the change is requested
        after = evaluate(afas_changes, first.cursor, instance)
        assert isinstance(after, dg.SensorResult) and "products" in names(after)

        create_run_for_test(
            instance,
            "__ephemeral_asset_job__",
            status=dg.DagsterRunStatus.NOT_STARTED,  # as a queued run, before the queue takes it
            asset_selection=frozenset(affected_targets({"AfasSf_Items"})),
        )
        change_an_item(org_env, "Gewijzigd terwijl een run wacht")
        covered = evaluate(afas_changes, after.cursor, instance)
    assert not requested(covered), "a run that has not started yet reads the change itself"
    assert isinstance(covered, dg.SensorResult) and covered.cursor != after.cursor, "and the change counts as seen"


def test_afas_sensor_requests_exactly_the_affected_targets(org_env: Org) -> None:
    first = evaluate(afas_changes, None)
    assert isinstance(first, dg.SensorResult) and first.cursor
    assert "products" in names(first) and "customers" in names(first), "a first probe syncs everything"
    observed = {event.asset_key.path[-1]: event for event in first.asset_events}
    assert set(observed) == {spec.id for spec in CONNECTOR_SET.values() if spec.modified_field}, "sources observed"
    newest = max(r["ModifiedDate"] for r in org_env.sandbox.rows("AfasSf_Items"))
    version = observed["AfasSf_Items"].tags[DATA_VERSION_TAG]
    assert version.startswith(parse_afas_datetime(newest).astimezone(UTC).isoformat() + "#"), version

    # No run ever materialised what it asked for (this instance has none): asked once more, then left be.
    again = evaluate(afas_changes, first.cursor)
    assert isinstance(again, dg.SensorResult) and names(again) == names(first)
    assert isinstance(evaluate(afas_changes, again.cursor), dg.SkipReason)

    item = org_env.sandbox.rows("AfasSf_Items")[0]["ItemCode"]
    org_env.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Description": "Gewijzigd in AFAS"}])
    changed = evaluate(afas_changes, again.cursor)
    assert isinstance(changed, dg.SensorResult)
    assert names(changed) == {"products", "product_relations", "prices", "stock", "orders", "shipments"}
    assert changed.cursor != again.cursor
    # Again no run materialised it: the items' change is asked for once more, exactly its targets.
    changed_again = evaluate(afas_changes, changed.cursor)
    assert isinstance(changed_again, dg.SensorResult) and names(changed_again) == names(changed)

    org_env.sandbox.upsert(
        "AfasSf_Debtors", [{"DebtorId": org_env.sandbox.rows("AfasSf_Debtors")[0]["DebtorId"], "Phone": "010-0000000"}]
    )
    customers = evaluate(afas_changes, changed_again.cursor)
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
