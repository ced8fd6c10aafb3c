"""Start the sandboxes on free loopback ports and write `sandbox.env` for the clients."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.sandbox.afas.app import AfasSandboxApp
from afas_sf_assets.sandbox.afas.demo_data import DemoData, DemoSize
from afas_sf_assets.sandbox.afas.store import AfasStore
from afas_sf_assets.sandbox.tls import TlsFiles, ensure_tls

logger = logging.getLogger(__name__)
ENV_FILE = "sandbox.env"


@dataclass(frozen=True)
class SandboxOptions:
    directory: Path
    seed: int = 42
    size: DemoSize = DemoSize.SMALL
    afas_data: Path | None = None


def seed_afas(store: AfasStore, options: SandboxOptions) -> None:
    """Fill an empty store; a store that already holds data keeps it (restarts lose nothing)."""
    if any(store.count(connector) for connector in CONNECTOR_SET):
        return
    if options.afas_data:
        loaded: dict[str, list[dict[str, Any]]] = json.loads(options.afas_data.read_text())
        unknown = sorted(set(loaded) - set(CONNECTOR_SET))
        if unknown:
            raise SystemExit(
                f"--afas-data names connectors the project does not use: {', '.join(unknown)}; "
                f"known: {', '.join(CONNECTOR_SET)}"
            )
        for connector, rows in loaded.items():
            store.upsert_rows(connector, rows, touch=False)
        return
    for connector, rows in DemoData(options.seed, options.size).generate():
        store.upsert_rows(connector, rows, touch=False)


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class _Server(threading.Thread):
    def __init__(self, app: Any, tls: TlsFiles) -> None:
        super().__init__(daemon=True)
        self.sock = _listen()
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            timeout_keep_alive=30,
            access_log=False,
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def wait_started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)


@contextmanager
def run_sandboxes(options: SandboxOptions) -> Iterator[dict[str, str]]:
    """Serve the sandboxes while the context is open; yields the settings written to sandbox.env."""
    directory = options.directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    tls = ensure_tls(directory / "tls")
    store = AfasStore(directory / "afas.sqlite")
    token = store.get_meta("token")
    if token is None:
        token = secrets.token_hex(32).upper()
        store.set_meta("token", token)
    seed_afas(store, options)
    afas = _Server(AfasSandboxApp(store).build(), tls)
    afas.start()
    try:
        afas.wait_started()
        base = f"https://127.0.0.1:{afas.port}"
        settings = {
            "AFAS_BASE_URL": f"{base}/ProfitRestServices",
            "AFAS_TOKEN": token,
            "AFAS_CA_BUNDLE": str(tls.ca_cert),
            "AFAS_SANDBOX_URL": f"{base}/_sandbox",
        }
        env_file = directory / ENV_FILE
        env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        env_file.chmod(0o600)
        yield settings
    finally:
        afas.stop()


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
