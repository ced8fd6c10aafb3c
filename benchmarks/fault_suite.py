"""Nothing lost, at volume: every flow under each fault of the matrix, and `afas-sf sync` killed with SIGKILL
at random moments, each ending with one normal run and compared record by record with a fault-free world.

    .venv/bin/python -m benchmarks.fault_suite [--size medium] [--kills 12] [--faults all|none|NAME …]
        [--kill-window MIN MAX]

Prints one line per scenario: lost, duplicated, differing and extra records against the fault-free world,
the runs it took, and the seconds. Each scenario starts its own sandboxes (same seed, same AFAS data).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox
from afas_sf_assets_tests.world import MATRIX, Snapshot, compare, run_round, snapshot


def engine_for(box: Sandbox, state_url: str) -> SyncEngine:
    afas = AfasClient(box.afas_settings(page_size=1000))
    salesforce = SalesforceClient(box.sf_settings(bulk_poll_seconds=0.2))
    return SyncEngine(afas, salesforce, State(state_url), api_reserve=0, progress=lambda _: None)


def fault_free(size: str, seed: int, root: Path) -> Snapshot:
    with running_sandbox(root / "clean", "--size", size, "--seed", str(seed)) as box:
        engine = engine_for(box, f"sqlite:///{root / 'clean.sqlite'}")
        for number in range(2):
            run_round(engine, f"clean-{number}")
        return snapshot(box)


def under_fault(name: str, size: str, seed: int, root: Path, expected: Snapshot) -> str:
    afas_faults, sf_faults, session_seconds = MATRIX[name]
    started = time.monotonic()
    with running_sandbox(root / name.replace(" ", "-"), "--size", size, "--seed", str(seed)) as box:
        engine = engine_for(box, f"sqlite:///{root / (name.replace(' ', '-') + '.sqlite')}")
        box.set_faults(**afas_faults)
        box.sf_put("faults", sf_faults)
        box.sf_put("sessions", {"seconds": session_seconds})
        failures: list[str] = []
        for number in range(2):
            run_round(engine, f"faulty-{number}", lambda flow, exc: failures.append(flow))
        box.set_faults()
        box.sf_put("faults", {})
        box.sf_put("sessions", {"seconds": 7200})
        run_round(engine, "normal")
        result = compare(expected, snapshot(box))
    return (
        f"{name:<24} {result.line()}  flows failed under the fault: {len(failures)}  {time.monotonic() - started:.0f}s"
    )


def under_kills(
    kills: int, size: str, seed: int, root: Path, expected: Snapshot, window: tuple[float, float] = (2.0, 20.0)
) -> str:
    started = time.monotonic()
    rng = random.Random(seed)
    with running_sandbox(root / "kills", "--size", size, "--seed", str(seed)) as box:
        env = {
            **os.environ,
            **box.env,
            "DAGSTER_HOME": str(root / "kills-dagster"),
            "AFAS_SF_STATE_URL": f"sqlite:///{root / 'kills.sqlite'}",
            "SF_BULK_POLL_SECONDS": "0.2",
        }
        command = [sys.executable, "-m", "afas_sf_assets.cli", "sync"]
        killed = 0
        while killed < kills:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                process.wait(timeout=rng.uniform(*window))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                killed += 1
        finishing = 0
        while finishing < 3:
            finishing += 1
            if subprocess.run(command, env=env, capture_output=True).returncode == 0:
                break
        result = compare(expected, snapshot(box))
    return (
        f"{'killed ' + str(kills) + ' times':<24} {result.line()}  normal runs after: {finishing}  "
        f"{time.monotonic() - started:.0f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--faults", nargs="+", default=["all"], help="matrix entries, 'all' or 'none'")
    parser.add_argument(
        "--kill-window",
        nargs=2,
        type=float,
        default=(2.0, 20.0),
        metavar=("MIN", "MAX"),
        help="seconds into a sync at which it is killed, drawn between these (large: well into the run)",
    )
    args = parser.parse_args()
    names = list(MATRIX) if args.faults == ["all"] else [] if args.faults == ["none"] else args.faults
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        began = time.monotonic()
        expected = fault_free(args.size, args.seed, root)
        records = sum(len(v) for v in expected.values())
        print(f"fault-free world ({args.size}, seed {args.seed}): {records} records  {time.monotonic() - began:.0f}s")
        for name in names:
            print(under_fault(name, args.size, args.seed, root, expected), flush=True)
        if args.kills:
            print(under_kills(args.kills, args.size, args.seed, root, expected, args.kill_window), flush=True)


if __name__ == "__main__":
    main()
