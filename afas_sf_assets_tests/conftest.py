from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.retrying import RetryPolicy
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State, metadata
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox

# Retries in tests wait milliseconds, not seconds; the policy's table is tested on its own.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_retry_after=2.0, jitter=0.0)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox process for the session, with the small demo data of seed 7."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox") / "state", "--seed", "7", "--size", "small") as box:
        yield box


@pytest.fixture
def clean_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox with no faults, no IP restriction and zeroed call counters."""
    sandbox.set_faults()
    sandbox.set_allowed_ips(None)
    sandbox.reset_calls()
    yield sandbox
    sandbox.set_faults()
    sandbox.set_allowed_ips(None)


@pytest.fixture
def afas(clean_sandbox: Sandbox) -> Iterator[AfasClient]:
    with AfasClient(clean_sandbox.afas_settings(page_size=50), retry=FAST_RETRY) as client:
        yield client


@pytest.fixture
def sf_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox's Salesforce org with no faults and a roomy API allocation."""
    sandbox.sf_reset()
    yield sandbox
    sandbox.sf_reset()


@pytest.fixture
def salesforce(sf_sandbox: Sandbox) -> Iterator[SalesforceClient]:
    with SalesforceClient(sf_sandbox.sf_settings(), retry=FAST_RETRY) as client:
        yield client


WRITE_ENDPOINTS = ("PATCH composite", "POST composite", "POST sobjects", "PATCH sobjects", "POST jobs")


class Org:
    """A fresh pair of sandboxes with its own state database, and an engine wired to them."""

    def __init__(self, sandbox: Sandbox, state_url: str) -> None:
        self.sandbox = sandbox
        self.state = State(state_url)
        self._clients: list[AfasClient | SalesforceClient] = []

    def engine(
        self,
        *,
        batch_size: int = 500,
        api_reserve: float = 0.0,
        mappings_dir: Path | None = None,
        **sf_overrides: object,
    ) -> SyncEngine:
        afas = AfasClient(self.sandbox.afas_settings(page_size=100), retry=FAST_RETRY)
        salesforce = SalesforceClient(self.sandbox.sf_settings(**sf_overrides), retry=FAST_RETRY)
        self._clients += [afas, salesforce]
        return SyncEngine(
            afas, salesforce, self.state, batch_size=batch_size, api_reserve=api_reserve, mappings_dir=mappings_dir
        )

    def records(self, sobject: str = "Product2", field: str = "AFAS_Item_Code__c") -> dict[str, dict[str, Any]]:
        """The Salesforce sandbox's records of an object, by one of their fields."""
        return {r[field]: r for r in self.sandbox.sf_records(sobject) if r.get(field)}

    def writes(self) -> dict[str, int]:
        """Write calls Salesforce received since the counters were last reset."""
        calls = self.sandbox.sf_calls()["by_endpoint"]
        return {k: v for k, v in calls.items() if k in WRITE_ENDPOINTS}

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def fresh_org(tmp_path: Path) -> Iterator[Callable[..., Org]]:
    """Start a new sandbox pair (small demo data, seed 3) for one test; `features` picks the org's shape."""
    started: list[Org] = []

    def start(features: str = "multi_currency,state_country_picklists", *args: str) -> Org:
        directory = tmp_path / f"org{len(started)}"
        context = running_sandbox(directory, "--seed", "3", "--sf-features", features, *args)
        sandbox = context.__enter__()
        org = Org(sandbox, f"sqlite:///{tmp_path / f'state{len(started)}.sqlite'}")
        org.context = context  # type: ignore[attr-defined]
        started.append(org)
        return org

    yield start
    for org in started:
        org.close()
        org.context.__exit__(None, None, None)  # type: ignore[attr-defined]


POSTGRES_URL = os.environ.get("AFAS_SF_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL database named by AFAS_SF_TEST_POSTGRES_URL (`.ci/run` starts a server and sets it),
    its ledger tables emptied; the test is skipped, saying why, when none is given."""
    if not POSTGRES_URL:
        pytest.skip("AFAS_SF_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    engine = sa.create_engine(POSTGRES_URL)
    metadata.drop_all(engine)
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh state database: a SQLite file, and the PostgreSQL one when a server is given."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
