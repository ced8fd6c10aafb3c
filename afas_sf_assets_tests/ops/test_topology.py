"""The production topology on one machine: webserver, daemon and one gRPC code server per tenant as processes
of their own on PostgreSQL storage, two tenants against two pairs of sandboxes.

A sync is launched through GraphQL and its code server restarted mid-run, which takes the run with it; the
next run (launched as the nightly schedule would) finishes its records, and the change sensor launches the
runs that bring later changes. Afterwards every run is accounted for, each tenant's ledger (a PostgreSQL
schema of its own) and Salesforce org match its own AFAS record for record, and nothing of one tenant reached
the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from afas_sf_assets.sync.state import RecordStatus, State
from afas_sf_assets.topology import LocalDeployment, Tenant, free_port
from afas_sf_assets_tests.conftest import POSTGRES_URL
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox

TENANTS = {"acme": "11", "globex": "12"}  # name: the seed of its sandboxes' demo data
SENSOR_INTERVAL = "5"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
MARKER = "ONLY-ACME-1"


def _schema_url(url: str, schema: str, driver: str) -> str:
    with_schema = sa.make_url(url).set(drivername=driver).update_query_dict({"options": f"-csearch_path={schema}"})
    return with_schema.render_as_string(hide_password=False)


@pytest.fixture
def schemas() -> Iterator[Callable[[str, str], str]]:
    """Fresh PostgreSQL schemas in the test database, as URLs whose search_path selects them."""
    if not POSTGRES_URL:
        pytest.skip("AFAS_SF_TEST_POSTGRES_URL is not set: the production topology runs on PostgreSQL")
    engine = sa.create_engine(POSTGRES_URL)
    made: list[str] = []

    def make(name: str, driver: str) -> str:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
        made.append(name)
        return _schema_url(str(POSTGRES_URL), name, driver)

    yield make
    with engine.begin() as conn:
        for name in made:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    engine.dispose()


def _wait(what: str, done: Callable[[], bool], seconds: float = 300, explain: Callable[[], object] = str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:.0f} s; {explain()}")
        time.sleep(1)


def _state_of(deployment: LocalDeployment) -> dict[str, object]:
    """The runs and the change sensors' latest ticks, to say why something did not happen."""
    ticks = """{ sensorsOrError(repositorySelector: {repositoryLocationName: "LOC", repositoryName: "__repository__"}) {
        ... on Sensors { results { name sensorState { status ticks(limit: 3) { status skipReason error { message } }
        } } } } }"""
    sensors = {
        name: [
            s["sensorState"]
            for s in deployment.graphql(ticks.replace("LOC", name))["sensorsOrError"]["results"]
            if s["name"] == "afas_changes"
        ]
        for name in deployment.tenants
    }
    return {"runs": [(r["runId"], r["status"]) for r in _runs(deployment)], "sensors": sensors}


def _runs(deployment: LocalDeployment) -> list[dict[str, object]]:
    query = """{ runsOrError { ... on Runs { results { runId status creationTime
        tags { key value } assetSelection { path } } } } }"""
    results = deployment.graphql(query)["runsOrError"]["results"]
    return [{**run, "tags": {t["key"]: t["value"] for t in run["tags"]}} for run in results]


def _failures(deployment: LocalDeployment, run_id: str) -> list[str]:
    """What a failed run's event log says went wrong: the failed steps' errors and the run's own message."""
    query = """query Events($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
        __typename ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { message } } } } }"""
    events = deployment.graphql(query, {"id": run_id})["logsForRun"]["events"]
    return [
        f"{e.get('stepKey', 'run')}: {(e.get('error') or {}).get('message') or e.get('message')}"
        for e in events
        if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
    ]


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


def _settled(deployment: LocalDeployment, sandboxes: dict[str, Sandbox], states: dict[str, State]) -> bool:
    """Every run finished, and each tenant's products are all in its Salesforce org and its ledger."""
    if any(run["status"] not in FINISHED for run in _runs(deployment)):
        return False
    for name, sandbox in sandboxes.items():
        items = {row["ItemCode"] for row in sandbox.rows("AfasSf_Items")}
        synced = {e.key for e in states[name].iter_entries("products", [RecordStatus.SYNCED])}
        if synced != items:
            return False
    return True


def test_two_tenants_on_the_production_topology_survive_a_code_server_restart(
    tmp_path: Path, schemas: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFAS_SF_DAGSTER_POSTGRES_URL", schemas("topology_dagster", "postgresql+psycopg2"))
    with (
        running_sandbox(tmp_path / "acme", "--seed", TENANTS["acme"]) as acme_box,
        running_sandbox(tmp_path / "globex", "--seed", TENANTS["globex"]) as globex_box,
    ):
        sandboxes = {"acme": acme_box, "globex": globex_box}
        state_urls = {name: schemas(f"tenant_{name}", "postgresql+psycopg") for name in TENANTS}
        tenants = [
            Tenant(
                name,
                {**box.env, "AFAS_SF_STATE_URL": state_urls[name], "AFAS_SF_SENSOR_INTERVAL": SENSOR_INTERVAL},
            )
            for name, box in sandboxes.items()
        ]
        acme_box.upsert("AfasSf_Items", [{**acme_box.rows("AfasSf_Items")[0], "ItemCode": MARKER}])
        started = time.monotonic()
        with LocalDeployment(tenants, home=tmp_path / "dagster", port=free_port()) as deployment:
            up = time.monotonic() - started
            # Neither the webserver nor the daemon holds a tenant's secret; each code server only its own.
            for service in ("webserver", "daemon"):
                env = _environ(deployment.processes()[service].pid)
                assert not [k for k in env if k.startswith(("AFAS_", "SF_")) and k != "AFAS_SF_DAGSTER_POSTGRES_URL"]
            acme_env = _environ(deployment.processes()["code-server-acme"].pid)
            assert acme_env["AFAS_TOKEN"] == acme_box.env["AFAS_TOKEN"] != globex_box.env["AFAS_TOKEN"]

            launched = deployment.launch("acme", "nightly_sync", {"afas-sf/started-by": "test"})
            _wait("the launched run starts", lambda: deployment.run_status(launched) == "STARTED", 120)
            time.sleep(2)
            restarted_at = time.time()
            deployment.restart_code_server("acme")
            _wait("the interrupted run is marked", lambda: deployment.run_status(launched) in FINISHED, 120)
            # The next run, as the nightly schedule (or a user in the UI) starts it, finishes what it left.
            repair = deployment.launch("acme", "nightly_sync", {"afas-sf/started-by": "test, after the restart"})

            states = {name: State(url) for name, url in state_urls.items()}
            _wait(
                "the next run repairs acme and the sensor syncs globex",
                lambda: _settled(deployment, sandboxes, states),
                explain=lambda: _state_of(deployment),
            )
            changed_at = time.time()
            changed = acme_box.rows("AfasSf_Items")[1]["ItemCode"]
            acme_box.upsert("AfasSf_Items", [{"ItemCode": changed, "Description": "Na de herstart gewijzigd"}])
            _wait(
                "the change reaches acme's Salesforce",
                lambda: any(
                    r["Name"] == "Na de herstart gewijzigd" and r["AFAS_Item_Code__c"] == changed
                    for r in acme_box.sf_records("Product2")
                ),
            )
            _wait(
                "every run ends", lambda: _settled(deployment, sandboxes, states), explain=lambda: _state_of(deployment)
            )
            runs = _runs(deployment)
            failed = {r["runId"]: _failures(deployment, str(r["runId"])) for r in runs if r["status"] != "SUCCESS"}
            total = time.monotonic() - started

        by_id = {run["runId"]: run for run in runs}
        assert by_id[launched]["status"] == "FAILURE", "the run was stopped with its code server"
        assert by_id[launched]["tags"].get("dagster/failure_reason") == "UNEXPECTED_TERMINATION"
        after = [run for run in runs if float(run["creationTime"]) > restarted_at]
        assert after and all(run["status"] == "SUCCESS" for run in after), failed
        assert by_id[repair]["status"] == "SUCCESS"
        globex = [r for r in runs if r["tags"].get("dagster/code_location") == "globex"]
        assert globex and all(r["tags"].get("dagster/sensor_name") == "afas_changes" for r in globex)
        change_runs = [r for r in after if float(r["creationTime"]) > changed_at]
        assert change_runs and all(r["tags"].get("dagster/sensor_name") == "afas_changes" for r in change_runs)
        for name in TENANTS:
            # A tenant's runs only ever materialise its own assets.
            mine = [r for r in runs if r["tags"].get("dagster/code_location") == name]
            assert all(key["path"][0] == name for r in mine for key in r["assetSelection"] or [])

        for name, box in sandboxes.items():
            products = {
                r["AFAS_Item_Code__c"]: r["Id"] for r in box.sf_records("Product2") if r.get("AFAS_Item_Code__c")
            }
            ledger = {e.key: e for e in states[name].iter_entries("products")}
            items = {row["ItemCode"] for row in box.rows("AfasSf_Items")}
            assert set(products) == set(ledger) == items, f"{name}: AFAS, the ledger and Salesforce hold other products"
            assert all(ledger[key].target_id == products[key] for key in items)
            for flow in ("customers", "products", "prices", "orders", "shipments"):
                counts = states[name].counts(flow)
                assert not counts.get(RecordStatus.PARTIAL.value), f"{name} {flow}: {counts}"
        assert MARKER in {e.key for e in states["acme"].iter_entries("products")}
        assert MARKER not in {e.key for e in states["globex"].iter_entries("products")}
        assert MARKER not in {r.get("AFAS_Item_Code__c") for r in globex_box.sf_records("Product2")}
        print(
            f"topology up in {up:.1f} s; restart, repair, two tenants and a change in {total:.1f} s; {len(runs)} runs"
        )
