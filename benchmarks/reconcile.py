"""Reconciliation at 100,000 keys: the three-way join of AFAS, the ledger and Salesforce as frame merges
(`afas_sf_assets.sync.reconcile`), side by side with the same comparison key by key in Python dicts and
sets (how it was done before), on one world.

    .venv/bin/python -m benchmarks.reconcile [--size large] [--drift 100]

It starts the sandboxes with the demo data of that size, syncs the products, then plants drift: records
deleted in Salesforce, records edited there, items removed from AFAS, `--drift` of each. Each way then
runs in a fresh process of its own (for its peak RSS) and must find exactly the planted drift. It
prints, per way: seconds, peak RSS, AFAS and Salesforce calls, and the drift found.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.settings import SalesforceSettings
from afas_sf_assets.sync.engine import SyncEngine, record_key
from afas_sf_assets.sync.reconcile import CLOCK_SLACK, Drift, reconcile
from afas_sf_assets.sync.state import IN_SALESFORCE, State, sync_records
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce
from afas_sf_assets_tests.sandbox_process import running_sandbox
from benchmarks.process import own_peak_mib


def per_key(engine: SyncEngine, run_id: str) -> Drift:
    """The comparison key by key: ledger entries as objects, sets and dicts, the write times read 500 ids
    at a time."""
    ctx = engine.context(PRODUCTS, run_id=run_id, dry_run=True)
    drift = Drift(PRODUCTS.name)
    in_afas = {key for row in engine.source_rows(ctx, None) if (key := record_key(row, ctx.mapping.source.key))}
    entries = list(engine.state.iter_entries(PRODUCTS.name, IN_SALESFORCE))
    drift.checked = len(entries)
    drift.not_synced_yet = len(in_afas - {e.key for e in entries})
    drift.gone_from_afas = sorted(e.key for e in entries if e.key not in in_afas and not e.key.startswith("~"))
    ids = [e.target_id for e in entries if e.target_id]
    modified = {
        row["Id"]: datetime.fromisoformat(row["LastModifiedDate"].replace("+0000", "+00:00"))
        for row in engine.salesforce.query_in("SELECT Id, LastModifiedDate FROM Product2 WHERE Id IN {values}", ids)
    }
    written: dict[str, datetime] = {}
    with engine.state.engine.connect() as conn:
        wanted = list(modified)
        for start in range(0, len(wanted), 500):
            for target_id, at in conn.execute(
                sa.select(sync_records.c.target_id, sa.func.max(sync_records.c.updated_at))
                .where(sync_records.c.target_id.in_(wanted[start : start + 500]))
                .group_by(sync_records.c.target_id)
            ):
                written[target_id] = at if at.tzinfo else at.replace(tzinfo=UTC)
    for entry in entries:
        if entry.target_id not in modified:
            drift.missing_in_salesforce.append(entry.key)
        elif modified[entry.target_id] > written[entry.target_id] + CLOCK_SLACK:
            drift.changed_in_salesforce.append(entry.key)
    return drift


def measure(way: str) -> None:
    """In the child process: one way, on the world the environment names; prints its figures as JSON."""
    with AfasClient(AfasSettings(page_size=1000)) as afas, SalesforceClient(SalesforceSettings()) as salesforce:
        engine = SyncEngine(afas, salesforce, State())
        started = time.monotonic()
        drift = reconcile(engine, PRODUCTS, run_id="bench") if way == "frames" else per_key(engine, "bench")
        seconds = time.monotonic() - started
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "checked": drift.checked,
                    "missing": sorted(drift.missing_in_salesforce),
                    "changed": sorted(drift.changed_in_salesforce),
                    "gone": sorted(drift.gone_from_afas),
                    "afas_calls": afas.calls,
                    "sf_calls": salesforce.calls,
                    "peak_mib": own_peak_mib(),
                }
            )
        )


def run_way(way: str, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.reconcile", "--measure", way], env=env, stdout=subprocess.PIPE, check=True
    )
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["small", "medium", "large"], default="large")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--drift", type=int, default=100)
    parser.add_argument("--measure", choices=["frames", "per-key"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        with running_sandbox(directory / "world", "--seed", str(args.seed), "--size", args.size) as box:
            state_url = f"sqlite:///{directory / 'state.sqlite'}"
            started = time.monotonic()
            with (
                AfasClient(box.afas_settings(page_size=1000)) as afas,
                SalesforceClient(box.sf_settings()) as salesforce,
            ):
                report = SyncEngine(afas, salesforce, State(state_url)).run(PRODUCTS, run_id="load")
            print(f"products synced in {time.monotonic() - started:.0f} s: {report.summary_line()}")

            ids = {r["AFAS_Item_Code__c"]: r["Id"] for r in box.sf_records("Product2") if r.get("AFAS_Item_Code__c")}
            gc.collect()
            codes = sorted(ids)
            n = args.drift
            deleted, edited, removed = codes[:n], codes[n : 2 * n], codes[2 * n : 3 * n]
            time.sleep(CLOCK_SLACK.total_seconds() + 1)  # an edit later than our write by more than the slack
            sf = plain_salesforce(box)
            for code in deleted:
                sf.Product2.delete(ids[code])
            for code in edited:
                sf.Product2.update(ids[code], {"Description": f"edited in Salesforce {datetime.now(UTC)}"})
            for code in removed:
                box.delete("AfasSf_Items", {"ItemCode": code})
            expected = {"missing": deleted, "changed": edited, "gone": removed}

            env = {**os.environ, **box.env, "AFAS_SF_STATE_URL": state_url, "AFAS_SF_LOG_RETENTION_DAYS": "14"}
            print(f"\nreconciliation of {len(codes):,} products, {n} of each kind of drift planted\n")
            print(f"{'way':<9} {'seconds':>8} {'peak RSS MiB':>13} {'AFAS calls':>11} {'SF calls':>9}  drift found")
            for way in ("frames", "per-key"):
                figures = run_way(way, env)
                found = {kind: figures[kind] for kind in expected}
                right = "exactly the planted drift" if found == expected else f"WRONG: {found}"
                print(
                    f"{way:<9} {figures['seconds']:>8.2f} {figures['peak_mib']:>13.0f} {figures['afas_calls']:>11} "
                    f"{figures['sf_calls']:>9}  {right}"
                )
            print(f"\n(the clock slack is {CLOCK_SLACK / timedelta(seconds=1):.0f} s)")


if __name__ == "__main__":
    main()
