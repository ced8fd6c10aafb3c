"""Peak memory of a products first sync against the number of items: it should not grow with the table.

    .venv/bin/python -m benchmarks.memory [--sizes medium large]

For each size it starts the sandboxes with that demo data (5,000 or 100,000 items, images included) and
runs the products flow's first sync in a fresh process of its own, whose own peak RSS (VmHWM) is the
figure: the sandboxes and this parent are not in it. It prints items, seconds, the calls, the peak, and
each peak against the first size's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.settings import SalesforceSettings
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.sandbox_process import running_sandbox
from benchmarks.process import own_peak_mib


def measure() -> None:
    """In the child process: the first sync of the products, on the world the environment names."""
    with AfasClient(AfasSettings(page_size=1000)) as afas, SalesforceClient(SalesforceSettings()) as salesforce:
        started = time.monotonic()
        report = SyncEngine(afas, salesforce, State(), progress=lambda _: None).run(PRODUCTS, run_id="memory")
        figures = {
            "items": report.read,
            "created": report.created,
            "images": report.counts.get("images", 0),
            "seconds": time.monotonic() - started,
            "afas_calls": afas.calls,
            "sf_calls": salesforce.calls,
            "peak_mib": own_peak_mib(),
        }
        print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", choices=["small", "medium", "large"], default=["medium", "large"])
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure()
        return
    print(f"{'items':>8}{'created':>9}{'images':>8}{'seconds':>9}{'afas':>7}{'sf':>6}{'peak MiB':>10}{'vs first':>10}")
    first: float | None = None
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as scratch, running_sandbox(Path(scratch) / "world", "--size", size) as box:
            box.sf_put("limits", {"max": 10_000_000, "used": 0})
            env = {**os.environ, **box.env, "AFAS_SF_STATE_URL": f"sqlite:///{scratch}/state.sqlite"}
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", "--measure"], env=env, stdout=subprocess.PIPE, check=True
            )
            figures = json.loads(done.stdout.decode().strip().splitlines()[-1])
        first = first or figures["peak_mib"]
        print(
            f"{figures['items']:>8,}{figures['created']:>9,}{figures['images']:>8,}{figures['seconds']:>9.1f}"
            f"{figures['afas_calls']:>7,}"
            f"{figures['sf_calls']:>6,}{figures['peak_mib']:>10.1f}{figures['peak_mib'] / first:>10.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
