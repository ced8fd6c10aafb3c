"""The change sensor under the real Dagster daemon: a change in AFAS reaches Salesforce within two sensor
intervals plus the run's own time, and a daemon started after a sync does not resync what is unchanged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from afas_sf_assets.headless import ensure_dagster_home
from afas_sf_assets_tests.conftest import Org

REPO = Path(__file__).resolve().parents[2]
# Dagster's sensor daemon evaluates at most every 5 seconds, whatever shorter interval a sensor asks for.
INTERVAL = 5


def sensor_ticks(instance: dg.DagsterInstance, name: str) -> list[object]:
    states = [s for s in instance.all_instigator_state() if s.instigator_name == name]
    return instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id) if states else []


def test_a_change_in_afas_reaches_salesforce_within_two_intervals_and_the_run(
    fresh_org: Callable[..., Org], tmp_path: Path
) -> None:
    org = fresh_org()
    home = tmp_path / "dagster"
    env = {
        **os.environ,
        **org.sandbox.env,
        "DAGSTER_HOME": str(home),
        "AFAS_SF_STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
        "AFAS_SF_SENSOR_INTERVAL": str(INTERVAL),
    }
    os.environ["DAGSTER_HOME"] = str(home)
    ensure_dagster_home()
    sync = [sys.executable, "-m", "afas_sf_assets.cli", "sync"]
    subprocess.run(sync, env=env, cwd=REPO, check=True, capture_output=True, timeout=300)
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs_before = {run.run_id for run in instance.get_runs()}
            deadline = time.monotonic() + 120
            while not sensor_ticks(instance, "afas_changes") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert sensor_ticks(instance, "afas_changes"), "the daemon never evaluated the sensor"

            item = org.sandbox.rows("AfasSf_Items")[0]["ItemCode"]
            changed_at = time.monotonic()
            org.sandbox.upsert("AfasSf_Items", [{"ItemCode": item, "Description": "Gewijzigd, nu naar Salesforce"}])
            while time.monotonic() < changed_at + 120:
                if org.records()[item]["Name"] == "Gewijzigd, nu naar Salesforce":
                    break
                time.sleep(0.2)
            latency = time.monotonic() - changed_at
            new_runs = [run for run in instance.get_runs() if run.run_id not in runs_before]
            assert len(new_runs) == 1, "one run for one change; nothing resynced when the daemon started"
            record = instance.get_run_record_by_id(new_runs[0].run_id)
            while record is not None and record.end_time is None and time.monotonic() < changed_at + 180:
                time.sleep(0.5)
                record = instance.get_run_record_by_id(new_runs[0].run_id)
            assert record is not None and record.end_time is not None
            assert record.dagster_run.status is dg.DagsterRunStatus.SUCCESS
            # The run's own time: from its launch (a process of its own, loading the code: ~3 s) to its end.
            launched = min(
                e.timestamp
                for e in instance.all_logs(record.dagster_run.run_id)
                if e.dagster_event_type == dg.DagsterEventType.RUN_STARTING
            )
            own = record.end_time - launched
        assert latency <= 2 * INTERVAL + own, f"change reached Salesforce after {latency:.1f} s (the run: {own:.1f} s)"
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise AssertionError("the daemon did not stop on SIGTERM") from None
