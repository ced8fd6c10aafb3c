"""Budget guard, purge of activity and runs, reconciliation drift and its repair, the nightly job's checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import CODE_LOCATION_TAG

from afas_sf_assets.definitions import ALL_ASSETS, build_resources
from afas_sf_assets.defs.checks import CHECKS
from afas_sf_assets.defs.keys import TENANT_TAG
from afas_sf_assets.defs.schedules import JOBS, purge_history
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.sync.reconcile import reconcile
from afas_sf_assets.sync.state import ActivityEntry, RecordStatus, State
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.receivers import webhook_receiver
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce


def test_the_budget_guard_stops_before_the_reserve_and_the_next_run_finishes(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine(api_reserve=0.2)
    org.sandbox.sf_put("limits", {"max": 1_000, "used": 799})
    stopped = engine.run(PRODUCTS, run_id="run-1")
    assert stopped.status == "stopped_budget" and "kept in reserve" in (stopped.note or "")
    assert stopped.created == 0 and org.state.mark("products") is None
    assert stopped.api_limit == 1_000 and 799 < (stopped.api_used or 0) <= 802
    org.sandbox.sf_put("limits", {"max": 100_000, "used": 0})
    finished = engine.run(PRODUCTS, run_id="run-2")
    assert finished.status == "ok" and finished.created == len(org.sandbox.rows("AfasSf_Items"))


@dg.op
def noop() -> None:
    pass


@dg.job
def trivial() -> None:
    """A run to keep or purge."""
    noop()


def test_purge_keeps_recent_runs_and_activity_and_removes_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    now = datetime.now(UTC)
    State().log(
        [
            ActivityEntry("old", "customers", "1", "create", "created", at=now - timedelta(days=30)),
            ActivityEntry("new", "customers", "1", "update", "updated", at=now - timedelta(days=1)),
        ]
    )

    with dg.instance_for_test() as instance:
        first = trivial.execute_in_process(instance=instance).run_id
        second = trivial.execute_in_process(instance=instance).run_id
        assert purge_history(instance, 14, 30) == (1, 0), "nothing is 30 days old yet"
        removed = purge_history(instance, 14, 30, keep_run=second, now=now + timedelta(days=31))
        assert removed == (1, 1)
        assert instance.get_run_by_id(first) is None and instance.get_run_by_id(second) is not None
    assert [e.run_id for e in State().activity()] == []


def test_a_tenants_housekeeping_removes_its_own_old_runs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")

    later = datetime.now(UTC) + timedelta(days=31)
    with dg.instance_for_test() as instance:
        runs = {
            name: trivial.execute_in_process(instance=instance, tags=tags).run_id
            for name, tags in {
                "acme by sync": {TENANT_TAG: "acme"},
                "acme by its location": {CODE_LOCATION_TAG: "afas-sf-acme"},
                "globex by sync": {TENANT_TAG: "globex"},
                "globex by its location": {CODE_LOCATION_TAG: "afas-sf-globex"},
            }.items()
        }
        removed = purge_history(instance, 14, 30, now=later, tenant="acme", location="afas-sf-acme")
        assert removed[1] == 2
        left = {name for name, run_id in runs.items() if instance.get_run_by_id(run_id) is not None}
        assert left == {"globex by sync", "globex by its location"}


def test_reconciliation_finds_each_kind_of_drift_and_repairs_it(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(PRODUCTS, run_id="run-1")
    assert reconcile(engine, PRODUCTS, run_id="check-0").total == 0
    items = [i for i in org.sandbox.rows("AfasSf_Items") if i["ItemKind"] == "simple" and not i["Blocked"]]
    deleted, edited, gone = items[0]["ItemCode"], items[1]["ItemCode"], items[2]["ItemCode"]
    products = {p["AFAS_Item_Code__c"]: p["Id"] for p in org.sandbox.sf_records("Product2")}
    sf = plain_salesforce(org.sandbox)
    sf.Product2.delete(products[deleted])
    time.sleep(6)  # beyond the clock slack between our write and Salesforce's stamp
    sf.Product2.update(products[edited], {"Name": "Door iemand in Salesforce veranderd"})
    org.sandbox.delete("AfasSf_Items", {"ItemCode": gone})
    drift = reconcile(engine, PRODUCTS, run_id="check-1")
    assert (drift.missing_in_salesforce, drift.changed_in_salesforce, drift.gone_from_afas) == (
        [deleted],
        [edited],
        [gone],
    )
    repaired = reconcile(engine, PRODUCTS, run_id="repair", repair=True)
    assert repaired.repaired == 3
    engine.run(PRODUCTS, run_id="run-2")
    products = {p["AFAS_Item_Code__c"]: p for p in org.sandbox.sf_records("Product2") if not p.get("IsDeleted")}
    names = {i["ItemCode"]: i["Description"] for i in org.sandbox.rows("AfasSf_Items")}
    assert products[deleted]["Id"] != ""  # made again
    assert products[edited]["Name"] == names[edited], "AFAS's values sent again"
    assert products[gone]["IsActive"] is False
    assert org.state.entry("products", gone).status is RecordStatus.REMOVED
    assert reconcile(engine, PRODUCTS, run_id="check-2").total == 0


def test_the_nightly_job_runs_every_flow_and_its_checks(
    fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    org.sandbox.upsert("AfasSf_Items", [{"ItemCode": "BAD-PRICE", "Description": "x", "BasicSalesPrice": "gratis"}])
    with webhook_receiver() as (url, received), dg.instance_for_test() as instance:
        monkeypatch.setenv("AFAS_SF_ALERT_WEBHOOK_URL", url)
        loaded = dg.Definitions(assets=ALL_ASSETS, asset_checks=CHECKS, resources=build_resources(), jobs=JOBS)
        result = loaded.resolve_job_def("nightly_sync").execute_in_process(instance=instance, raise_on_error=False)
        assert result.success
        checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("products", "reconciliation")].passed
    assert checks[("customers", "failed_records")].passed
    products = checks[("products", "failed_records")]
    assert not products.passed and "BAD-PRICE" in products.metadata["keys"].value
    alerted = [payload for _, payload in received if payload["flow"] == "products"]
    assert alerted and alerted[0]["records"][0]["key"] == "BAD-PRICE"
    assert (
        alerted[0]["records"][0]["code"] == "INVALID_VALUE" and alerted[0]["records"][0]["field"] == "BasicSalesPrice"
    )
