"""`afas-sf dev` (what `make dev` runs) as a user runs it: the UI comes up on the sandboxes without Dagster's
community dialog, and SIGINT or SIGTERM stops everything and removes the sandboxes' settings file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
NUX_QUERY = {"query": "query { shouldShowNux }"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_dev_serves_the_ui_on_the_sandboxes_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "sandbox.env").write_text("AFAS_BASE_URL=https://127.0.0.1:9/ProfitRestServices\n")  # dead ports
    port = free_port()
    dev = subprocess.Popen(
        [str(Path(sys.executable).parent / "afas-sf"), "dev", "--dir", str(sandbox), "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "AFAS_SF_SENSOR_INTERVAL": "3600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        answer = None
        while answer is None and time.monotonic() < deadline and dev.poll() is None:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json=NUX_QUERY, timeout=5).json()
            except httpx.HTTPError:
                time.sleep(0.5)
        assert answer == {"data": {"shouldShowNux": False}}, "the UI is up, without the community dialog"
        settings = (sandbox / "sandbox.env").read_text()
        assert ":9/" not in settings and "SF_LOGIN_URL" in settings, "the stale settings file was replaced"
        locations = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"},
        ).json()
        assert json.dumps(locations).count('"afas_sf_assets"') == 1

        dev.send_signal(stop)
        output, _ = dev.communicate(timeout=90)
    finally:
        if dev.poll() is None:
            dev.kill()
    assert dev.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "SupersessionWarning" not in output and "Warning:" not in output
    assert not (sandbox / "sandbox.env").exists(), "no settings file pointing at ports that are gone"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2)
    left = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True).stdout.split()
    assert not left, f"processes left behind: {left}"
