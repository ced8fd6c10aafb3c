"""The whole pipeline on a large world: `afas-sf sync` twice, as a user runs it, per flow and per run.

    .venv/bin/python -m benchmarks.large_world [--size large] [--seed 42] [--kill-after 600]

Two worlds side by side, each its own sandboxes with the demo data of that size (large: 10,000 debtors,
100,000 items) and its own Dagster instance. In the normal one `afas-sf sync` (every flow) runs twice;
the second run should write nothing. In the other the first sync is killed with SIGKILL `--kill-after`
seconds in, then normal syncs follow; at the end both worlds are compared record by record, as the
nothing-lost suite does. Per run it prints per flow the counts, the seconds, the AFAS and Salesforce
calls (from the materialisations' metadata), and the exit code, wall time and peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg

from afas_sf_assets.defs.salesforce_assets import CALL_METADATA
from afas_sf_assets_tests.sandbox_process import running_sandbox
from afas_sf_assets_tests.world import compare, snapshot

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


def report_run(label: str, home: Path, code: int, seconds: float, rss: float, output: str) -> list[str]:
    run_id = next(line.split()[1] for line in output.splitlines() if line.startswith("run "))
    lines = [f"{label}: exit {code}, {seconds:.0f}s wall, peak RSS {rss:.0f} MiB (afas-sf sync)"]
    lines.append(f"  {'flow':<18} {'seconds':>8} {'afas':>6} {'sf':>5}  counts")
    written = 0
    for name, values in flow_figures(home, run_id).items():
        counts = {k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
        shown = " ".join(f"{k}={v}" for k, v in counts.items() if v and k not in CALL_METADATA)
        written += sum(int(counts.get(k, 0)) for k in WRITES)
        lines.append(
            f"  {name:<18} {values.get('seconds', 0):>8} {counts.get('afas_calls', 0):>6} "
            f"{counts.get('salesforce_calls', 0):>5}  {shown}"
        )
    lines.append(f"  records written: {written}")
    lines.extend("  " + line.strip() for line in output.splitlines() if "FAILED" in line)
    return lines


def world(
    root: Path, size: str, seed: int, kill_after: float | None, results: dict[str, object], done: threading.Barrier
) -> None:
    """A fresh world synced twice; with `kill_after`, its first sync is killed with SIGKILL that many
    seconds in and normal syncs follow until one succeeds."""
    name = "killed" if kill_after else "normal"
    with running_sandbox(root / name, "--size", size, "--seed", str(seed)) as box:
        home = root / f"{name}-dagster"
        env = {
            **os.environ,
            **box.env,
            "DAGSTER_HOME": str(home),
            "AFAS_SF_STATE_URL": f"sqlite:///{root / name}.sqlite",
        }
        lines: list[str] = []
        if kill_after:
            process = subprocess.Popen(
                [sys.executable, "-m", "afas_sf_assets.cli", "sync"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                process.wait(timeout=kill_after)
                lines.append(f"the first sync ended before it could be killed at {kill_after:.0f}s")
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                lines.append(f"the first sync was killed with SIGKILL {kill_after:.0f}s in")
        for number in (1, 2, 3):
            code, seconds, rss, output = sync(env)
            lines += report_run(f"{name} world, run {number}", home, code, seconds, rss, output)
            print("\n".join(lines), flush=True)
            lines = []
            if code == 0 and number >= 2:
                break
        # Snapshots once every sync has ended: a sync forked while this process held a world's records
        # would count them in its own peak RSS.
        done.wait()
        results[name] = snapshot(box)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["small", "medium", "large"], default="large")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--kill-after",
        type=float,
        default=600.0,
        help="seconds into the second world's first sync at which it is killed; 0: no second world",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results: dict[str, object] = {}
        kills = [None, args.kill_after] if args.kill_after else [None]
        done = threading.Barrier(len(kills))
        worlds = [
            threading.Thread(target=world, args=(root, args.size, args.seed, kill, results, done)) for kill in kills
        ]
        for thread in worlds:
            thread.start()
        for thread in worlds:
            thread.join()
        if "killed" in results:
            comparison = compare(results["normal"], results["killed"])  # type: ignore[arg-type]
            print(f"\nkilled world against the normal one: {comparison.line()}")


if __name__ == "__main__":
    main()
