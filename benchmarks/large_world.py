"""The whole pipeline on a large world: `afas-sf sync` twice, as a user runs it, per flow and per run.

    .venv/bin/python -m benchmarks.large_world [--size large] [--seed 42]

Starts the sandboxes with the demo data of that size (large: 10,000 debtors, 100,000 items), runs
`afas-sf sync` (every flow) twice on a fresh Dagster instance, and prints per flow the counts, the
seconds, the AFAS and Salesforce calls of each run (from the materialisations' metadata), and per run
the exit code, wall time and peak RSS of the `afas-sf sync` process. The second run should write nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from afas_sf_assets.defs.salesforce_assets import CALL_METADATA
from afas_sf_assets_tests.sandbox_process import running_sandbox

WRITES = ("created", "updated", "deactivated", "removed", "lines", "images", "contacts")


def sync(env: dict[str, str]) -> tuple[int, float, float, str]:
    """Exit code, seconds and peak RSS (MiB) of one `afas-sf sync`, and what it printed."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "afas_sf_assets.cli", "sync"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.monotonic() - started, usage.ru_maxrss / 1024, output


def flow_figures(home: Path, run_id: str) -> dict[str, dict[str, object]]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        figures: dict[str, dict[str, object]] = {}
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.asset_materialization
            if materialization is not None:
                figures[materialization.asset_key.path[-1]] = {k: v.value for k, v in materialization.metadata.items()}
        return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["small", "medium", "large"], default="large")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        began = time.monotonic()
        with running_sandbox(root / "sandbox", "--size", args.size, "--seed", str(args.seed)) as box:
            print(f"sandboxes with the {args.size} world started in {time.monotonic() - began:.0f}s", flush=True)
            home = root / "dagster"
            env = {
                **os.environ,
                **box.env,
                "DAGSTER_HOME": str(home),
                "AFAS_SF_STATE_URL": f"sqlite:///{root / 'state.sqlite'}",
            }
            for number in (1, 2):
                code, seconds, rss, output = sync(env)
                run_id = next(line.split()[1] for line in output.splitlines() if line.startswith("run "))
                print(f"\nrun {number}: exit {code}, {seconds:.0f}s wall, peak RSS {rss:.0f} MiB (afas-sf sync)")
                print(f"  {'flow':<18} {'seconds':>8} {'afas':>6} {'sf':>5}  counts")
                written = 0
                for name, values in flow_figures(home, run_id).items():
                    counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
                    shown = " ".join(f"{k}={v}" for k, v in counts.items() if v and k not in CALL_METADATA)
                    written += sum(int(counts.get(k, 0)) for k in WRITES)
                    print(
                        f"  {name:<18} {values.get('seconds', 0):>8} {counts.get('afas_calls', 0):>6} "
                        f"{counts.get('salesforce_calls', 0):>5}  {shown}"
                    )
                print(f"  records written: {written}")
                for line in output.splitlines():
                    if "FAILED" in line:
                        print("  " + line.strip())


if __name__ == "__main__":
    main()
