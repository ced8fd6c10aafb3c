"""Dagster resources wrapping the API clients and the state store; those know nothing of Dagster."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr, ValidationError

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import AfasSettings, EnvironmentType
from afas_sf_assets.errors import ConfigurationError, settings_problem
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.settings import AuthFlow, SalesforceSettings
from afas_sf_assets.sync.state import State

T = TypeVar("T")
C = TypeVar("C", AfasClient, SalesforceClient)


def checked(build: Callable[[], T], system: str) -> T:
    """Settings, or one plain error naming what is missing and how to give it."""
    try:
        return build()
    except ValidationError as exc:
        raise ConfigurationError(
            f"the {system} settings are incomplete ({settings_problem(exc)}); write them with `afas-sf init` and "
            "pass `--env-file`, or export them (README, Configuration)"
        ) from None


class RunScopedClient(dg.ConfigurableResource):
    """A client shared by the steps of one run, closed when the run ends: one login, one connection pool
    and one describe of each object per run however many flows it materialises. Outside a run (a sensor,
    the wizard) each `client()` is a fresh client, closed by its `with`."""

    _run_client: Any = PrivateAttr(default=None)
    _in_run: bool = PrivateAttr(default=False)

    def _scoped(self, new_client: Callable[[], C]) -> AbstractContextManager[C]:
        if not self._in_run:
            return new_client()
        if self._run_client is None:
            self._run_client = new_client()
        return nullcontext(self._run_client)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._run_client is not None:
            self._run_client.close()
        self._run_client, self._in_run = None, False


class AfasResource(RunScopedClient):
    """An AFAS Profit environment. Give `base_url`, or `environment` with `environment_type`."""

    token: str | None = Field(default=None, description="App Connector token: 64 hex, the <token> XML, or base64")
    auth: str = Field(default="token", description="token, or oauth (client credentials)")
    client_id: str | None = None
    client_secret: str | None = None
    base_url: str | None = Field(default=None, description="Overrides environment and type (e.g. a sandbox)")
    environment: str | None = Field(default=None, description="Environment number, e.g. 12345")
    environment_type: str = Field(default=EnvironmentType.PRODUCTION.value)
    ca_bundle: str | None = Field(default=None, description="Extra CA certificate to trust (PEM)")
    integration_id: str | None = None
    page_size: int = 1000

    def settings(self) -> AfasSettings:
        return AfasSettings(
            token=self.token,
            base_url=self.base_url,
            environment=self.environment,
            environment_type=EnvironmentType(self.environment_type),
            ca_bundle=Path(self.ca_bundle) if self.ca_bundle else None,
            integration_id=self.integration_id,
            page_size=self.page_size,
        )

    def client(self) -> AbstractContextManager[AfasClient]:
        return self._scoped(lambda: AfasClient(checked(self.settings, "AFAS")))


class SalesforceResource(RunScopedClient):
    """A Salesforce org, logged in with the configured OAuth flow."""

    auth: str = AuthFlow.CLIENT_CREDENTIALS.value
    login_url: str = "https://login.salesforce.com"
    consumer_key: str | None = None
    consumer_secret: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    private_key_file: str | None = None
    instance_url: str | None = None
    access_token: str | None = None
    ca_bundle: str | None = None
    api_version: str = "62.0"
    bulk_threshold: int = 2000
    bulk_poll_seconds: float = 0.25
    bulk_timeout_seconds: float = 3600.0

    def settings(self) -> SalesforceSettings:
        return SalesforceSettings(
            auth=AuthFlow(self.auth),
            login_url=self.login_url,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            username=self.username,
            password=self.password,
            security_token=self.security_token,
            private_key_file=Path(self.private_key_file) if self.private_key_file else None,
            instance_url=self.instance_url,
            access_token=self.access_token,
            ca_bundle=Path(self.ca_bundle) if self.ca_bundle else None,
            api_version=self.api_version,
            bulk_threshold=self.bulk_threshold,
            bulk_poll_seconds=self.bulk_poll_seconds,
            bulk_timeout_seconds=self.bulk_timeout_seconds,
        )

    def client(self) -> AbstractContextManager[SalesforceClient]:
        return self._scoped(lambda: SalesforceClient(checked(self.settings, "Salesforce")))


class StateResource(dg.ConfigurableResource):
    """The ledger and activity log (SQLite under DAGSTER_HOME unless `url` is set)."""

    url: str | None = Field(default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://…")
    retention_days: float = Field(default=14.0, description="Days the activity log keeps personal data")
    api_reserve: float = Field(default=0.2, description="Share of the daily Salesforce API allocation never spent")

    def state(self) -> State:
        return State(self.url)
