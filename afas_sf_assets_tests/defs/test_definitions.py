"""The Dagster layer: definitions load, the graph reads like the flows table, assets materialise for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from afas_sf_assets.afas.dates import parse_afas_datetime
from afas_sf_assets.definitions import ALL_ASSETS, build_resources, defs
from afas_sf_assets.defs.afas_sources import AFAS_SOURCE_ASSETS
from afas_sf_assets.defs.keys import flow_pool
from afas_sf_assets.headless import ensure_dagster_home, sync
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.conftest import Org


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_lineage_is_categories_then_products_then_relations() -> None:
    graph = defs.resolve_asset_graph()

    def upstream(*path: str) -> set[tuple[str, ...]]:
        return {tuple(key.path) for key in graph.get(dg.AssetKey(list(path))).parent_keys}

    assert upstream("salesforce", "products") == {
        ("salesforce", "categories"),
        ("afas", "AfasSf_Items"),
        ("afas", "AfasSf_ItemGroups"),
    }
    assert upstream("salesforce", "product_relations") == {("salesforce", "products"), ("afas", "AfasSf_ItemRelations")}
    assert upstream("salesforce", "categories") == {("afas", "AfasSf_ItemGroups")}
    assert ("salesforce", "customers") in upstream("salesforce", "prices")
    assert ("salesforce", "products") in upstream("salesforce", "prices")
    assert ("salesforce", "products") in upstream("salesforce", "stock")
    assert upstream("salesforce", "customers") == {("afas", "AfasSf_Debtors")}


@pytest.fixture
def org_env(fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Org:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SF_BULK_POLL_SECONDS", "0.05")
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'assets-state.sqlite'}")
    return org


def test_materialising_the_targets_reports_counts_in_metadata(org_env: Org) -> None:
    targets = [dg.AssetKey(["salesforce", name]) for name in ("categories", "products", "product_relations")]
    with dg.instance_for_test() as instance:
        result = dg.materialize(ALL_ASSETS, resources=build_resources(), instance=instance, selection=targets)
        assert result.success
        metadata = {
            event.asset_key.path[-1]: event.materialization.metadata
            for event in result.get_asset_materialization_events()
        }
        items = len(org_env.sandbox.rows("AfasSf_Items"))
        assert metadata["products"]["created"].value == items
        assert metadata["products"]["salesforce_calls"].value > 0
        assert metadata["categories"]["status"].value.startswith("skipped")
        assert metadata["product_relations"]["created"].value == len(org_env.sandbox.rows("AfasSf_ItemRelations"))
        again = dg.materialize(ALL_ASSETS, resources=build_resources(), instance=instance, selection=targets)
        products = next(e for e in again.get_asset_materialization_events() if e.asset_key.path[-1] == "products")
        assert products.materialization.metadata["unchanged"].value == products.materialization.metadata["read"].value


def test_failures_table_in_metadata_names_key_code_and_field(org_env: Org) -> None:
    org_env.sandbox.upsert("AfasSf_Items", [{"ItemCode": "BAD-1", "Description": "x", "WeightKg": "zwaar"}])
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            resources=build_resources(),
            instance=instance,
            selection=[dg.AssetKey(["salesforce", "products"])],
        )
    (event,) = result.get_asset_materialization_events()
    table = event.materialization.metadata["failures"].value
    assert "| BAD-1 | quarantined | INVALID_VALUE | WeightKg |" in table


def test_observing_an_afas_source_versions_it_by_its_newest_change(org_env: Org) -> None:
    loaded = dg.Definitions(assets=ALL_ASSETS, resources=build_resources(), jobs=defs.jobs)
    newest = max(r["ModifiedDate"] for r in org_env.sandbox.rows("AfasSf_Items"))
    with dg.instance_for_test() as instance:
        result = loaded.resolve_job_def("observe_afas_sources").execute_in_process(instance=instance)
        assert result.success
        record = instance.get_latest_data_version_record(dg.AssetKey(["afas", "AfasSf_Items"]))
    assert record is not None
    version = record.asset_observation.data_version  # type: ignore[union-attr]
    assert version.startswith(parse_afas_datetime(newest).astimezone(UTC).isoformat() + "#"), "the real moment"
    assert len(AFAS_SOURCE_ASSETS) == 11


def sync_command(org: Org) -> list[str]:
    """`afas-sf sync` as a user runs it, with the sandboxes' settings file."""
    return [
        sys.executable,
        "-m",
        "afas_sf_assets.cli",
        "sync",
        "--env-file",
        str(org.sandbox.directory / "sandbox.env"),
    ]


def test_cli_sync_runs_every_flow_and_exits_non_zero_when_a_flow_fails(org_env: Org, tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")}
    command = sync_command(org_env)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.strip().startswith("products") and "created=" in line for line in lines)
    assert any(line.strip().startswith("product_relations") for line in lines)
    assert any(line.strip().startswith("customers") and "contacts=" in line for line in lines), "rule tallies show"
    assert any(line.strip().startswith("warning ") and "SHARED_EMAIL" in line for line in lines), "warnings show"
    products = dg.AssetKey(["salesforce", "products"])
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        written = instance.get_latest_materialization_event(products)
    dry = subprocess.run(
        [*command, "--select", "products", "--dry-run"], env=env, capture_output=True, text=True, timeout=300
    )
    assert dry.returncode == 0 and "dry run" in dry.stdout and "unchanged=" in dry.stdout
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        assert instance.get_latest_materialization_event(products) == written, "a dry run records no materialisation"
        (planned,) = instance.get_runs(filters=dg.RunsFilter(tags={"afas-sf/dry-run": "true"}))
        assert planned.tags["afas-sf/started-by"] == "afas-sf sync" and planned.job_name == "dry_run"
        plans = [e for e in instance.all_logs(planned.run_id) if e.step_key == "plan_products" and e.dagster_event]
        assert any(e.dagster_event.is_successful_output for e in plans if e.dagster_event)
    bad_env = {**env, "AFAS_TOKEN": "0" * 64}
    failed = subprocess.run(
        [sys.executable, "-m", "afas_sf_assets.cli", "sync", "--select", "products"],
        env={**bad_env, **{k: v for k, v in org_env.sandbox.env.items() if k != "AFAS_TOKEN"}},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert failed.returncode == 1
    assert "401" in failed.stderr and "0" * 64 not in failed.stderr + failed.stdout


def test_no_secret_reaches_the_event_log(org_env: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """Logs, metadata and errors of a good run and of a failing one hold no secret value."""
    secrets = [
        org_env.sandbox.env[name] for name in ("AFAS_TOKEN", "SF_CONSUMER_SECRET", "SF_PASSWORD", "SF_SECURITY_TOKEN")
    ]
    targets = [dg.AssetKey(["salesforce", name]) for name in ("products", "customers")]
    with dg.instance_for_test() as instance:
        good = dg.materialize(ALL_ASSETS, resources=build_resources(), instance=instance, selection=targets)
        monkeypatch.setenv("SF_CONSUMER_SECRET", "not-the-secret-" + secrets[1][:8])
        bad = dg.materialize(
            ALL_ASSETS, resources=build_resources(), instance=instance, selection=targets, raise_on_error=False
        )
        assert good.success and not bad.success
        for run_id in (good.run_id, bad.run_id):
            text = "\n".join(str(record) for record in instance.all_logs(run_id))
            assert text and not any(secret in text for secret in secrets)


def test_afas_oauth_instead_of_a_token(org_env: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFAS_TOKEN")
    monkeypatch.setenv("AFAS_AUTH", "oauth")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            resources=build_resources(),
            instance=instance,
            selection=[dg.AssetKey(["salesforce", "customers"])],
        )
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["created"].value == len(org_env.sandbox.rows("AfasSf_Debtors"))


def test_a_sync_killed_hard_is_marked_failed_by_the_next_one(
    org_env: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    ensure_dagster_home()
    with dg.DagsterInstance.get():
        pass  # its storage exists before two processes open it at once
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = sync_command(org_env)
    # Slow AFAS answers keep the first sync busy long enough to be killed in the middle.
    org_env.sandbox.set_faults(latency_ms=300)
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        started: list[dg.DagsterRun] = []
        while not started and time.monotonic() < deadline:
            time.sleep(0.5)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                # Killed while it holds the products flow's pool slot, which nobody else will free.
                holders = instance.event_log_storage.get_concurrency_info(flow_pool("products")).claimed_slots
                started = [run for slot in holders if (run := instance.get_run_by_id(slot.run_id))]
        assert started, "the first sync never started syncing products"
        victim.kill()
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    org_env.sandbox.set_faults()
    done = subprocess.run([*command, "--select", "products"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"earlier run {started[0].run_id} had been killed" in done.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(started[0].run_id)
        assert run is not None and run.status is dg.DagsterRunStatus.FAILURE


def test_after_a_sync_and_an_observation_nothing_shows_unsynced(org_env: Org, tmp_path: Path) -> None:
    # What the UI computes for "Unsynced"; Dagster offers no public API for it.
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    home = tmp_path / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = sync_command(org_env)
    done = subprocess.run(
        [*command, "--select", "categories", "products", "customers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    targets = [dg.AssetKey(["salesforce", name]) for name in ("categories", "products", "customers")]
    loaded = dg.Definitions(assets=ALL_ASSETS, resources=build_resources(), jobs=defs.jobs)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert loaded.resolve_job_def("observe_afas_sources").execute_in_process(instance=instance).success

        def status(key: dg.AssetKey) -> StaleStatus:
            resolver = CachingStaleStatusResolver(
                instance, loaded.resolve_asset_graph(), LoadingContextForTest(instance)
            )
            return resolver.get_status(key)

        assert {key.path[-1]: status(key) for key in targets} == {key.path[-1]: StaleStatus.FRESH for key in targets}
        item = org_env.sandbox.rows("AfasSf_Items")[0]["ItemCode"]
        org_env.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Description": "Gewijzigd"}])
        assert loaded.resolve_job_def("observe_afas_sources").execute_in_process(instance=instance).success
        assert status(dg.AssetKey(["salesforce", "products"])) is StaleStatus.STALE, "a change in AFAS shows"
        assert status(dg.AssetKey(["salesforce", "customers"])) is StaleStatus.FRESH


def test_two_syncs_of_one_flow_started_at_once_take_turns(org_env: Org, tmp_path: Path) -> None:
    home = tmp_path / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    subprocess.run([*sync_command(org_env), "--select", "categories"], env=env, check=True, capture_output=True)
    org_env.sandbox.set_faults(latency_ms=20)  # long enough for the two to meet
    command = [*sync_command(org_env), "--select", "products"]
    both = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300)[0] for process in both]
    org_env.sandbox.set_faults()
    assert [process.returncode for process in both] == [0, 0], outputs
    with dg.DagsterInstance.from_config(str(home)) as instance:
        spans = []
        for run in instance.get_runs(filters=dg.RunsFilter(job_name="__ephemeral_asset_job__")):
            events = [e for e in instance.all_logs(run.run_id) if e.step_key == "salesforce__products"]
            steps = {e.dagster_event_type: e.timestamp for e in events if e.dagster_event_type}
            if dg.DagsterEventType.STEP_START in steps:
                spans.append((steps[dg.DagsterEventType.STEP_START], steps[dg.DagsterEventType.STEP_SUCCESS]))
    assert len(spans) == 2
    (_, first_end), (second_start, _) = sorted(spans)
    assert second_start >= first_end, "the second run's products step began only after the first had ended"
    created = sorted(
        int(line.split("created=")[1].split()[0]) for out in outputs for line in out.splitlines() if "created=" in line
    )
    assert created == [0, len(org_env.sandbox.rows("AfasSf_Items"))], outputs
    codes = [r["AFAS_Item_Code__c"] for r in org_env.sandbox.sf_records("Product2") if r.get("AFAS_Item_Code__c")]
    assert len(codes) == len(set(codes))


def test_an_unchanged_run_of_every_flow_logs_in_once_describes_each_object_once_and_writes_nothing(
    org_env: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert sync().success
    person = next(d for d in org_env.sandbox.rows("AfasSf_Debtors") if not d["CompanyName"])
    org_env.sandbox.upsert("AfasSf_Debtors", [{"DebtorId": person["DebtorId"], "Phone": "06-12345678"}])
    assert sync().success  # the person changed: the default account it hangs under did not
    org_env.sandbox.sf_reset()
    assert sync().success
    calls = org_env.sandbox.sf_calls()["by_endpoint"]
    assert calls.get("login") == 1, calls
    assert all(count == 1 for name, count in calls.items() if name.startswith("describe")), calls
    assert org_env.writes() == {}, "an unchanged run writes nothing"


def test_a_sync_with_the_ledger_and_dagsters_storage_on_postgresql(
    org_env: Org, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("AFAS_SF_STATE_URL", postgres_url)
    # Dagster's own storage speaks psycopg2 (SQLAlchemy 2.1 would pick psycopg 3); one database serves both.
    dagster_url = sa.make_url(postgres_url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    monkeypatch.setenv("AFAS_SF_DAGSTER_POSTGRES_URL", dagster_url)
    assert sync().success
    org_env.sandbox.sf_reset()
    again = sync()
    assert again.success and org_env.writes() == {}, "the ledger in PostgreSQL knows what was sent"
    assert State(postgres_url).counts("products") == {"synced": len(org_env.sandbox.rows("AfasSf_Items"))}
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_run_by_id(again.run_id) is not None
    assert "postgres" in (home / "dagster.yaml").read_text() and "afas_sf:" not in (home / "dagster.yaml").read_text()
    assert not (home / "history").exists(), "nothing of Dagster's in SQLite"


TENANT_PROBE = """
import json
from afas_sf_assets.definitions import defs
graph = defs.resolve_asset_graph()
nodes = [graph.get(key) for key in graph.get_all_asset_keys()]
print(json.dumps({
    "keys": sorted(node.key.to_user_string() for node in nodes),
    "groups": sorted({node.group_name for node in nodes}),
    "pools": sorted({node.pools and next(iter(node.pools)) or "" for node in nodes if node.is_materializable}),
}))
"""


def test_a_tenant_prefixes_every_asset_key_group_and_pool() -> None:
    env = {**os.environ, "AFAS_SF_TENANT": "acme_nl"}
    shown = json.loads(
        subprocess.run([sys.executable, "-c", TENANT_PROBE], env=env, capture_output=True, check=True).stdout
    )
    assert all(key.startswith("acme_nl/") for key in shown["keys"])
    assert "acme_nl/salesforce/products" in shown["keys"] and "acme_nl/afas/AfasSf_Items" in shown["keys"]
    assert shown["groups"] == ["acme_nl_afas_sources", "acme_nl_afas_targets", "acme_nl_salesforce_targets"]
    assert "afas_sf_acme_nl_products" in shown["pools"] and all(
        p.startswith("afas_sf_acme_nl_") for p in shown["pools"]
    )


def test_a_tenant_name_that_cannot_be_a_key_is_refused_in_one_line() -> None:
    env = {**os.environ, "AFAS_SF_TENANT": "Acme NL"}
    done = subprocess.run(
        [sys.executable, "-m", "afas_sf_assets.cli", "sync", "--dry-run"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "afas-sf sync: AFAS_SF_TENANT='Acme NL' is not a tenant name: use lower-case letters, digits and "
        "underscores, starting with a letter (at most 40), e.g. acme_nl"
    ]
