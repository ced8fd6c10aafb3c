"""`afas-sf dev` (what `make dev` runs): the sandboxes, then Dagster's `dg dev` against them.

Ctrl-C or SIGTERM stops the UI, the daemon and the sandboxes cleanly, and removes the sandboxes' settings
file, whose ports die with them. `dg dev` runs in a session of its own so that it gets the stop signal
once, from here, whether afas-sf runs in a terminal, in the background or under a supervisor.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from afas_sf_assets.headless import ensure_dagster_home
from afas_sf_assets.sandbox.runner import ENV_FILE, SandboxOptions, run_sandboxes

STOP_SECONDS = 60


def dev_command(port: int) -> list[str]:
    """`dg dev` on the checkout's workspace.yaml (its code location name), or on the installed package."""
    target = ["-w", "workspace.yaml"] if Path("workspace.yaml").is_file() else ["-m", "afas_sf_assets.definitions"]
    return [str(Path(sys.executable).parent / "dg"), "dev", *target, "--port", str(port)]


def run_dev(directory: Path | None, *, port: int, seed: int) -> int:
    """Serve the UI (and the sandboxes, unless `directory` is None) until stopped; returns dg dev's exit code."""
    home = ensure_dagster_home()
    stop = threading.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stop.set())
    with contextlib.ExitStack() as stack:
        # The virtual environment is this one: dg would otherwise warn that none is active.
        env = {**os.environ, "VIRTUAL_ENV": sys.prefix}
        if directory is not None:
            (directory / ENV_FILE).unlink(missing_ok=True)  # a settings file left by a killed run
            env.update(stack.enter_context(run_sandboxes(SandboxOptions(directory, seed=seed, with_examples=True))))
            stack.callback((directory / ENV_FILE).unlink, missing_ok=True)
            print(f"sandboxes running; settings in {directory / ENV_FILE}")
        dagster = subprocess.Popen(dev_command(port), env=env, start_new_session=True)
        print(f"Dagster UI on http://127.0.0.1:{port}  (instance {home}); Ctrl-C stops it all", flush=True)
        while not stop.is_set() and dagster.poll() is None:
            stop.wait(0.5)
        if dagster.poll() is None:
            dagster.send_signal(signal.SIGINT)  # dg dev's own orderly stop: webserver, daemon, code server
            try:
                dagster.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(dagster.pid, signal.SIGKILL)
                dagster.wait()
        print("stopped", flush=True)
        return 0 if stop.is_set() else dagster.returncode
