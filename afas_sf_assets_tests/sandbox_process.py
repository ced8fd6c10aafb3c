"""Run `afas-sf sandbox` as a separate process, exactly as a user would, and steer it over HTTP."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.salesforce.settings import SalesforceSettings
from afas_sf_assets.sandbox.runner import ENV_FILE, read_env_file


@dataclass
class Sandbox:
    directory: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    control: httpx.Client = field(init=False)
    sf_control: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.sf_control = httpx.Client(
            base_url=self.env["SF_SANDBOX_URL"] + "/",
            timeout=60,
            verify=ssl.create_default_context(cafile=self.env["SF_CA_BUNDLE"]),
        )
        self.control = httpx.Client(
            base_url=self.env["AFAS_SANDBOX_URL"] + "/",
            verify=ssl.create_default_context(cafile=self.env["AFAS_CA_BUNDLE"]),
            timeout=60,
        )

    def afas_settings(self, **overrides: Any) -> AfasSettings:
        values: dict[str, Any] = {
            "base_url": self.env["AFAS_BASE_URL"],
            "token": self.env["AFAS_TOKEN"],
            "ca_bundle": Path(self.env["AFAS_CA_BUNDLE"]),
        }
        values.update(overrides)
        return AfasSettings(**values)

    def sf_settings(self, **overrides: Any) -> SalesforceSettings:
        names = (
            "SF_AUTH",
            "SF_LOGIN_URL",
            "SF_CONSUMER_KEY",
            "SF_CONSUMER_SECRET",
            "SF_USERNAME",
            "SF_PASSWORD",
            "SF_SECURITY_TOKEN",
            "SF_PRIVATE_KEY_FILE",
            "SF_CA_BUNDLE",
            "SF_API_VERSION",
        )
        values: dict[str, Any] = {name[3:].lower(): self.env[name] for name in names}
        values.update({"bulk_poll_seconds": 0.05, **overrides})
        return SalesforceSettings(**values)

    def sf_put(self, knob: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.sf_control.put(knob, json=body)
        response.raise_for_status()
        return response.json()

    def sf_calls(self) -> dict[str, Any]:
        return self.sf_control.get("calls").json()

    def sf_reset(self) -> None:
        """No faults, a roomy API allocation, two-hour sessions, zeroed call counters."""
        self.sf_put("faults", {})
        self.sf_put("limits", {"max": 1_000_000, "used": 0})
        self.sf_put("sessions", {"seconds": 7200})
        self.sf_control.delete("calls").raise_for_status()

    def sf_records(self, sobject: str) -> list[dict[str, Any]]:
        return self.sf_control.get(f"records/{sobject}").json()["records"]

    def set_faults(self, **faults: Any) -> None:
        self.control.put("faults", json=faults).raise_for_status()

    def set_allowed_ips(self, ips: list[str] | None) -> None:
        self.control.put("access", json={"allow_ips": ips}).raise_for_status()

    def reset_calls(self) -> None:
        """Zero the counters once calls left over from an earlier test (slow-response knobs) are done."""
        deadline = time.monotonic() + 30
        while self.calls()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.control.delete("calls").raise_for_status()

    def calls(self) -> dict[str, Any]:
        return self.control.get("calls").json()

    def upsert(self, connector: str, rows: list[dict[str, Any]], *, touch: bool = True) -> None:
        self.control.post(f"rows/{connector}", json={"rows": rows, "touch": touch}).raise_for_status()

    def upsert_many(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        for connector, connector_rows in rows.items():
            self.upsert(connector, connector_rows)

    def delete(self, connector: str, where: dict[str, Any]) -> int:
        response = self.control.request("DELETE", f"rows/{connector}", json={"where": where})
        response.raise_for_status()
        return response.json()["deleted"]

    def rows(self, connector: str) -> list[dict[str, Any]]:
        return self.control.get(f"rows/{connector}").json()["rows"]

    def stop(self) -> None:
        self.control.close()
        self.sf_control.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_sandbox(directory: Path, *args: str) -> Sandbox:
    env_file = directory / ENV_FILE
    env_file.unlink(missing_ok=True)
    log = open(directory.parent / f"{directory.name}.log", "ab")  # noqa: SIM115 - the child writes to it
    process = subprocess.Popen(
        [sys.executable, "-m", "afas_sf_assets.cli", "sandbox", "--dir", str(directory), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (env_file.exists() and env_file.read_text().endswith("\n") and "SF_SANDBOX_URL" in env_file.read_text()):
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}; see {log.name}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sandbox did not start within 120 s")
        time.sleep(0.05)
    return Sandbox(directory, read_env_file(env_file), process)


@contextmanager
def running_sandbox(directory: Path, *args: str) -> Iterator[Sandbox]:
    directory.mkdir(parents=True, exist_ok=True)
    sandbox = start_sandbox(directory, *args)
    try:
        yield sandbox
    finally:
        sandbox.stop()
