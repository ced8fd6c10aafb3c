"""afas-sf against a per-record loop, with the sandboxes set to a WAN model: calls are the time.

    .venv/bin/python -m benchmarks.wan [--sizes small medium] [--sample 300]

The model (docs/benchmarks.md says why): each Salesforce call 150 ms, each AFAS call 200 ms, and server
time per record of 2 ms in an sObject Collections call and 0.2 ms in a Bulk API 2.0 job.

For each size it starts a fresh pair of sandboxes (same seed, same data) for each side and syncs the
products: afas-sf through its engine, and the loop a user would write with simple-salesforce, reading
AFAS's items page by page and upserting one Product2 per call. The loop runs on the first `--sample`
items and is extrapolated to all (at 150 ms a call, 100,000 items would take four hours). It prints one
table: Salesforce reads and writes, AFAS calls, wall seconds, records per second, peak RSS of this
process, and the ratio afas-sf / per-record.
"""

from __future__ import annotations

import argparse
import resource
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import authorization_value
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox

SF_CALL_MS, AFAS_CALL_MS = 150, 200
COLLECTION_RECORD_MS, BULK_RECORD_MS = 2.0, 0.2
WRITES = ("PATCH", "POST", "PUT", "DELETE")


@dataclass
class Measured:
    sf_reads: int
    sf_writes: int
    afas_calls: int
    seconds: float
    records: int

    def cells(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0
        return f"{self.sf_reads:>8} {self.sf_writes:>8} {self.afas_calls:>7} {self.seconds:>9.1f} {rate:>9.1f}"


def wan(box: Sandbox) -> None:
    box.set_faults(latency_ms=AFAS_CALL_MS)
    box.sf_put(
        "faults",
        {
            "latency_ms": SF_CALL_MS,
            "latency_per_record_ms": COLLECTION_RECORD_MS,
            "bulk_latency_per_record_ms": BULK_RECORD_MS,
        },
    )
    box.sf_put("limits", {"max": 10_000_000, "used": 0})
    box.sf_control.delete("calls")
    box.control.delete("calls")


def calls(box: Sandbox) -> tuple[int, int, int]:
    by_endpoint: dict[str, int] = box.sf_calls()["by_endpoint"]
    endpoints = {k: v for k, v in by_endpoint.items() if " " in k and not k.startswith("describe")}
    # A composite call that only reads (describes, look-ups) is counted apart by the sandbox.
    reads = sum(v for k, v in endpoints.items() if k.split()[0] == "GET" or k.endswith("(reads)"))
    writes = sum(v for k, v in endpoints.items() if k.split()[0] in WRITES and not k.endswith("(reads)"))
    return reads, writes, int(box.calls()["total"])


def afas_sf(box: Sandbox, root: Path) -> Measured:
    afas = AfasClient(box.afas_settings(page_size=1000))
    salesforce = SalesforceClient(box.sf_settings())
    engine = SyncEngine(afas, salesforce, State(f"sqlite:///{root / 'state.sqlite'}"), api_reserve=0)
    wan(box)
    started = time.perf_counter()
    report = engine.run(PRODUCTS, run_id="wan")
    seconds = time.perf_counter() - started
    afas.close()
    salesforce.close()
    by_endpoint: dict[str, int] = box.sf_calls()["by_endpoint"]
    jobs = {k: v for k, v in by_endpoint.items() if k.split(" ")[1:2] == ["jobs"]}
    if jobs:
        # Product2 is the flow's only bulk object (images go as collections): its whole write path.
        print(
            f"  afas-sf Product2 by Bulk API 2.0: {jobs.get('POST jobs', 0)} job(s), {sum(jobs.values())} calls "
            f"({', '.join(f'{k} {v}' for k, v in sorted(jobs.items()))})",
            flush=True,
        )
    return Measured(*calls(box), seconds, report.created + report.updated)


def per_record(box: Sandbox, sample: int) -> Measured:
    """The loop a user would write: AFAS's items page by page, one upsert per item."""
    sf = plain_salesforce(box)
    header = authorization_value(box.env["AFAS_TOKEN"])
    wan(box)
    started = time.perf_counter()
    done = 0
    with httpx.Client(
        base_url=box.env["AFAS_BASE_URL"] + "/",
        headers={"Authorization": header},
        verify=ssl.create_default_context(cafile=box.env["AFAS_CA_BUNDLE"]),
        timeout=120,
    ) as afas:
        skip = 0
        while done < sample:
            rows: list[dict[str, Any]] = afas.get(
                "connectors/AfasSf_Items", params={"skip": skip, "take": 1000, "orderbyfieldids": "ItemCode"}
            ).json()["rows"]
            if not rows:
                break
            skip += len(rows)
            for row in rows[: sample - done]:
                sf.Product2.upsert(
                    f"AFAS_Item_Code__c/{row['ItemCode']}",
                    {"Name": row["Description"], "ProductCode": row["ItemCode"], "IsActive": not row["Blocked"]},
                )
                done += 1
    return Measured(*calls(box), time.perf_counter() - started, done)


def scaled(measured: Measured, total: int) -> Measured:
    factor = total / measured.records
    return Measured(
        round(measured.sf_reads * factor),
        round(measured.sf_writes * factor),
        round(measured.afas_calls * factor),
        measured.seconds * factor,
        total,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", choices=["small", "medium", "large"], default=["small", "medium"])
    parser.add_argument("--sample", type=int, default=300, help="items the per-record loop syncs, then scaled")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(
        f"WAN model: Salesforce {SF_CALL_MS} ms a call, AFAS {AFAS_CALL_MS} ms a call, "
        f"{COLLECTION_RECORD_MS} ms a record in a collection, {BULK_RECORD_MS} ms a record in a bulk job"
    )
    print(f"{'items':>7} {'side':<22} {'sf reads':>8} {'sf write':>8} {'afas':>7} {'seconds':>9} {'rec/s':>9}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            with running_sandbox(root / "a", "--size", size, "--seed", str(args.seed)) as box:
                ours = afas_sf(box, root)
            with running_sandbox(root / "b", "--size", size, "--seed", str(args.seed)) as box:
                items = len(box.rows("AfasSf_Items"))
                sampled = per_record(box, min(args.sample, items))
            theirs = scaled(sampled, items)
            note = f"per-record ({sampled.records} run)" if sampled.records < items else "per-record"
            print(f"{items:>7} {'afas-sf':<22} {ours.cells()}")
            print(f"{items:>7} {note:<22} {theirs.cells()}")
            print(
                f"{items:>7} {'ratio afas-sf/per-rec':<22} "
                f"{ours.sf_reads / max(theirs.sf_reads, 1):>8.2f} {ours.sf_writes / max(theirs.sf_writes, 1):>8.3f} "
                f"{ours.afas_calls / max(theirs.afas_calls, 1):>7.2f} {ours.seconds / theirs.seconds:>9.3f}",
                flush=True,
            )
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
