"""Dagster resources wrapping the API clients; the clients themselves know nothing of Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import AfasSettings, EnvironmentType


class AfasResource(dg.ConfigurableResource):
    """An AFAS Profit environment. Give `base_url`, or `environment` with `environment_type`."""

    token: str = Field(description="App Connector token: 64 hex, the <token> XML, or its base64 form")
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

    def client(self) -> AfasClient:
        return AfasClient(self.settings())
