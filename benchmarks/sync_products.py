"""The products flow at volume: first sync, an unchanged re-run, and a full resync.

    .venv/bin/python -m benchmarks.sync_products [--size medium|large] [--bulk-threshold 2000]

Starts the sandboxes in a temporary directory and prints, per run: rows read, records written,
seconds, rows/s, AFAS and Salesforce calls, and the peak resident memory of this process (the
sandboxes run in their own). Images are part of the first run. Compare ratios from one run.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.sandbox_process import running_sandbox


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--bulk-threshold", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_sandbox(Path(tmp) / "state", "--size", args.size) as box:
        afas = AfasClient(box.afas_settings(page_size=1000))
        salesforce = SalesforceClient(box.sf_settings(bulk_threshold=args.bulk_threshold, bulk_poll_seconds=0.2))
        engine = SyncEngine(
            afas, salesforce, State(f"sqlite:///{tmp}/state.sqlite"), api_reserve=0, progress=lambda _: None
        )
        box.sf_put("limits", {"max": 10_000_000, "used": 0})
        print(f"size={args.size} bulk_threshold={args.bulk_threshold}")
        print(f"{'run':<12}{'read':>8}{'written':>9}{'seconds':>9}{'rows/s':>9}{'afas':>6}{'sf':>6}{'peak MiB':>10}")
        for label, options in (("first", {}), ("unchanged", {}), ("full", {"full": True})):
            started = time.perf_counter()
            report = engine.run(PRODUCTS, run_id=label, **options)
            seconds = time.perf_counter() - started
            written = report.created + report.updated
            print(
                f"{label:<12}{report.read:>8}{written:>9}{seconds:>9.1f}{report.read / seconds:>9.0f}"
                f"{report.afas_calls:>6}{report.salesforce_calls:>6}{_peak_mib():>10.0f}"
            )
        afas.close()
        salesforce.close()


if __name__ == "__main__":
    main()
