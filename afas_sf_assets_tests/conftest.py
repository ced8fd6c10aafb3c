from __future__ import annotations

from collections.abc import Iterator

import pytest

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.retrying import RetryPolicy
from afas_sf_assets.salesforce.client import SalesforceClient
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
