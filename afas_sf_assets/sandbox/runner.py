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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, spec_from_plain
from afas_sf_assets.salesforce.schema import OrgFeature
from afas_sf_assets.sandbox.afas.app import AfasSandboxApp
from afas_sf_assets.sandbox.afas.demo_data import DemoData, DemoSize
from afas_sf_assets.sandbox.afas.examples import PROJECTS_CONNECTOR, PROJECTS_SPEC, example_projects
from afas_sf_assets.sandbox.afas.store import AfasStore
from afas_sf_assets.sandbox.salesforce.app import SalesforceSandboxApp
from afas_sf_assets.sandbox.salesforce.org import API_VERSION
from afas_sf_assets.sandbox.salesforce.store import SfStore
from afas_sf_assets.sandbox.tls import TlsFiles, ensure_tls

logger = logging.getLogger(__name__)
ENV_FILE = "sandbox.env"


@dataclass(frozen=True)
class SandboxOptions:
    directory: Path
    seed: int = 42
    size: DemoSize = DemoSize.SMALL
    afas_data: Path | None = None
    # The AFAS side of the example flows in mappings/examples (a GetConnector of one's own, with its rows).
    with_examples: bool = False
    sf_features: frozenset[OrgFeature] = frozenset({OrgFeature.MULTI_CURRENCY, OrgFeature.STATE_COUNTRY_PICKLISTS})


def seed_afas(store: AfasStore, options: SandboxOptions) -> None:
    """Fill an empty store; a store that already holds data keeps it (restarts lose nothing).

    `--afas-data` gives rows per connector: a list for the project's own GetConnectors, or, for one of the
    user's own, `{"key": [...], "modified": "ModifiedDate", "fields": [{"id", "type", "length"}], "rows": [...]}`,
    which the sandbox then serves with that metainfo."""
    if options.with_examples and PROJECTS_CONNECTOR not in store.specs:
        store.learn(spec_from_plain(PROJECTS_CONNECTOR, PROJECTS_SPEC))
        seeded = any(store.count(connector) for connector in CONNECTOR_SET)
        if seeded:  # sandboxes kept from before the examples: they get the examples' rows now
            store.upsert_rows(PROJECTS_CONNECTOR, example_projects(list(store.iter_all("AfasSf_Debtors"))), touch=False)
    if any(store.count(connector) for connector in store.specs):
        return
    if options.afas_data:
        loaded: dict[str, Any] = json.loads(options.afas_data.read_text())
        for connector, given in loaded.items():
            if isinstance(given, dict):
                try:
                    store.learn(spec_from_plain(connector, given))
                except ValueError as exc:
                    raise SystemExit(f"--afas-data: {exc}") from None
                rows = given.get("rows", [])
            elif connector in store.specs:
                rows = given
            else:
                raise SystemExit(
                    f"--afas-data: {connector} is not one of the project's GetConnectors ({', '.join(CONNECTOR_SET)}); "
                    'describe a connector of your own with {"key": [...], "fields": [...], "rows": [...]}'
                )
            store.upsert_rows(connector, rows, touch=False)
        return
    for connector, rows in DemoData(options.seed, options.size).generate():
        store.upsert_rows(connector, rows, touch=False)
    if options.with_examples:
        store.upsert_rows(PROJECTS_CONNECTOR, example_projects(list(store.iter_all("AfasSf_Debtors"))), touch=False)


def prepare_salesforce(store: SfStore, directory: Path, options: SandboxOptions) -> dict[str, str]:
    """The org's connected app, integration user and JWT key: made once, kept across restarts."""
    key_file = directory / "jwt-private-key.pem"
    if store.get_meta("connected_app") is None or not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_file.chmod(0o600)
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        store.set_meta(
            "connected_app",
            {
                "consumer_key": "3MVG9" + secrets.token_urlsafe(60)[:80],
                "consumer_secret": secrets.token_hex(32).upper(),
                "public_key": public,
            },
        )
        store.set_meta(
            "user",
            {
                "username": "integration@afas-sf.sandbox",
                "password": secrets.token_urlsafe(16),
                "token": secrets.token_urlsafe(18),
            },
        )
    if store.get_meta("features") is None:
        store.set_meta("features", sorted(f.value for f in options.sf_features))
    app, user = store.get_meta("connected_app"), store.get_meta("user")
    return {
        "SF_AUTH": "client_credentials",
        "SF_CONSUMER_KEY": app["consumer_key"],
        "SF_CONSUMER_SECRET": app["consumer_secret"],
        "SF_USERNAME": user["username"],
        "SF_PASSWORD": user["password"],
        "SF_SECURITY_TOKEN": user["token"],
        "SF_PRIVATE_KEY_FILE": str(key_file),
        "SF_API_VERSION": API_VERSION,
    }


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class _Server(threading.Thread):
    """uvicorn on a socket bound before the app exists, so the app can know its own URL."""

    def __init__(self, tls: TlsFiles) -> None:
        super().__init__(daemon=True)
        self.tls = tls
        self.sock = _listen()
        self.port = self.sock.getsockname()[1]
        self.server: uvicorn.Server | None = None

    def serve(self, app: Any) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=str(self.tls.server_cert),
            ssl_keyfile=str(self.tls.server_key),
            timeout_keep_alive=30,
            # Clients keep idle connections open; shutting down should not wait on them.
            timeout_graceful_shutdown=1,
            access_log=False,
            # The apps decide what is too large, as the real services do (h11 alone would answer 400).
            h11_max_incomplete_event_size=1_048_576,
        )
        self.server = uvicorn.Server(config)
        self.start()

    def run(self) -> None:
        assert self.server is not None
        self.server.run(sockets=[self.sock])

    def wait_started(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self.server and self.server.started):
            if not self.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
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
    if store.get_meta("oauth_client") is None:
        store.set_meta(
            "oauth_client", {"client_id": "afas-sf-" + secrets.token_hex(4), "client_secret": secrets.token_urlsafe(24)}
        )
    oauth = store.get_meta("oauth_client")
    seed_afas(store, options)
    sf_store = SfStore(directory / "salesforce" / "org.sqlite")
    sf_settings = prepare_salesforce(sf_store, directory / "salesforce", options)
    afas, salesforce = _Server(tls), _Server(tls)
    sf_base = f"https://127.0.0.1:{salesforce.port}"
    sf_app = SalesforceSandboxApp(sf_store, sf_base)
    sf_app.org.ensure_standing_data()
    afas.serve(AfasSandboxApp(store).build())
    salesforce.serve(sf_app.build())
    try:
        afas.wait_started()
        salesforce.wait_started()
        base = f"https://127.0.0.1:{afas.port}"
        settings = {
            "AFAS_BASE_URL": f"{base}/ProfitRestServices",
            "AFAS_TOKEN": token,
            "AFAS_CLIENT_ID": oauth["client_id"],
            "AFAS_CLIENT_SECRET": oauth["client_secret"],
            "AFAS_CA_BUNDLE": str(tls.ca_cert),
            "AFAS_SANDBOX_URL": f"{base}/_sandbox",
            **sf_settings,
            "SF_LOGIN_URL": sf_base,
            "SF_CA_BUNDLE": str(tls.ca_cert),
            "SF_SANDBOX_URL": f"{sf_base}/_sandbox",
        }
        env_file = directory / ENV_FILE
        env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        env_file.chmod(0o600)
        yield settings
    finally:
        afas.stop()
        salesforce.stop()


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values
