"""A flow declared by one YAML file and no Python (mappings/examples/projects.yaml): a GetConnector of the
user's own into a custom object, with an Account lookup through the customers flow, run as a user runs it
(`afas-sf sync`, through Dagster) against sandboxes that learned the connector and the object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from afas_sf_assets.sync.state import RecordStatus, State
from afas_sf_assets_tests.flows.conftest import line_of, run_sync, sync
from afas_sf_assets_tests.sandbox_process import Sandbox


def test_a_yaml_only_flow_syncs_with_its_lookup_waits_for_what_is_missing_and_then_writes_nothing(
    world: tuple[Sandbox, dict[str, str], list[str]],
) -> None:
    box, env, companies = world
    first = sync(env, "--select", "customers", "projects")
    assert "created=6" in line_of(first, "projects"), first

    accounts = {a["AFAS_Debtor_Id__c"]: a["Id"] for a in box.sf_records("Account") if a.get("AFAS_Debtor_Id__c")}
    projects = {p["AFAS_Project_Id__c"]: p for p in box.sf_records("AFAS_Project__c")}
    assert sorted(projects) == [f"P{n:04d}" for n in range(1, 7)]
    assert projects["P0001"]["Account__c"] == accounts[companies[1]]
    assert projects["P0001"]["Status__c"] == "active" and projects["P0001"]["Budget__c"] == 1001.0
    assert projects["P0001"]["Start_Date__c"] == "2026-03-01"

    state = State(env["AFAS_SF_STATE_URL"])
    waiting, too_long = state.entry("projects", "P0007"), state.entry("projects", "P0008")
    assert waiting is not None and waiting.status is RecordStatus.WAITING
    assert "customers record 99999 is not in Salesforce yet" in (waiting.error_message or "")
    assert too_long is not None and too_long.status is RecordStatus.QUARANTINED
    assert too_long.error_field == "Description" and "at most 80 characters" in (too_long.error_message or "")

    second = sync(env, "--select", "customers", "projects")
    assert "created=0 updated=0" in line_of(second, "projects"), second
    assert len(box.sf_records("AFAS_Project__c")) == 6

    box.upsert("AfasSf_Projects", [{"ProjectId": "P0002", "Status": "G"}])
    third = sync(env, "--select", "projects")
    assert "updated=1" in line_of(third, "projects"), third
    assert {p["AFAS_Project_Id__c"]: p for p in box.sf_records("AFAS_Project__c")}["P0002"]["Status__c"] == "closed"

    box.delete("AfasSf_Projects", {"ProjectId": "P0004"})
    full = sync(env, "--select", "projects", "--full")
    assert "deactivated=1" in line_of(full, "projects"), full
    assert {p["AFAS_Project_Id__c"]: p for p in box.sf_records("AFAS_Project__c")}["P0004"]["Status__c"] == "closed"
    removed = state.entry("projects", "P0004")
    assert removed is not None and removed.status is RecordStatus.REMOVED


def test_a_yaml_only_flow_is_an_asset_after_its_flows_and_its_object_is_in_the_metadata(
    world: tuple[Sandbox, dict[str, str], list[str]], tmp_path: Path
) -> None:
    _, env, _ = world
    probe = """
import json, dagster as dg
from afas_sf_assets.definitions import defs
from afas_sf_assets.defs.sensors import affected_targets
graph = defs.resolve_asset_graph()
print(json.dumps({
    "parents": sorted(k.to_user_string() for k in graph.get(dg.AssetKey(["salesforce", "projects"])).parent_keys),
    "observed": graph.get(dg.AssetKey(["afas", "AfasSf_Projects"])).is_observable,
    "sensed": [k.to_user_string() for k in affected_targets({"AfasSf_Projects"})],
}))
"""
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    shown = json.loads(done.stdout)
    assert shown["parents"] == ["afas/AfasSf_Projects", "salesforce/customers"]
    assert shown["observed"], "its GetConnector is an observable source asset"
    assert shown["sensed"] == ["salesforce/projects"], "the change sensor requests it when its connector changes"

    out = tmp_path / "metadata"
    subprocess.run(
        [sys.executable, "-m", "afas_sf_assets.cli", "metadata", "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    objects = out / "force-app" / "main" / "default" / "objects" / "AFAS_Project__c"
    assert (objects / "AFAS_Project__c.object-meta.xml").is_file()
    fields = {p.name.split(".")[0] for p in (objects / "fields").glob("*.field-meta.xml")}
    assert {"AFAS_Project_Id__c", "Status__c", "Start_Date__c", "Budget__c", "Account__c"} <= fields


def test_a_yaml_only_flow_that_fails_half_way_loses_nothing(world: tuple[Sandbox, dict[str, str], list[str]]) -> None:
    box, env, _ = world
    assert "created=50" in line_of(sync(env, "--select", "customers"), "customers")
    # Salesforce answers the projects' write with 500s until the client gives up: the run fails there.
    box.sf_put("faults", {"fail_next": [{"status": 500, "match": "AFAS_Project__c", "method": "PATCH"}] * 20})
    failed = run_sync(env, "--select", "projects")
    assert failed.returncode == 1 and "FAILED: projects" in failed.stderr, failed.stderr
    assert box.sf_records("AFAS_Project__c") == []
    box.sf_put("faults", {})
    repaired = sync(env, "--select", "projects")
    assert "created=6" in line_of(repaired, "projects"), repaired
    codes = [p["AFAS_Project_Id__c"] for p in box.sf_records("AFAS_Project__c")]
    assert sorted(codes) == [f"P{n:04d}" for n in range(1, 7)], "each once"
    state = State(env["AFAS_SF_STATE_URL"])
    assert state.counts("projects") == {"synced": 6, "waiting": 1, "quarantined": 1}
