"""The code location: the only place that reads settings and secrets from the environment."""

from __future__ import annotations

import os

import dagster as dg

from afas_sf_assets.defs.afas_sources import AFAS_SOURCE_ASSETS
from afas_sf_assets.defs.resources import AfasResource

afas = AfasResource(
    token=dg.EnvVar("AFAS_TOKEN"),
    base_url=os.environ.get("AFAS_BASE_URL"),
    environment=os.environ.get("AFAS_ENVIRONMENT"),
    environment_type=os.environ.get("AFAS_ENVIRONMENT_TYPE", "production"),
    ca_bundle=os.environ.get("AFAS_CA_BUNDLE"),
    integration_id=os.environ.get("AFAS_INTEGRATION_ID"),
)

defs = dg.Definitions(assets=AFAS_SOURCE_ASSETS, resources={"afas": afas})
