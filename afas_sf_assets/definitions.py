"""The code location: its resources take their settings and secrets from the environment."""

from __future__ import annotations

import os

import dagster as dg

from afas_sf_assets.defs.afas_sources import AFAS_SOURCE_ASSETS
from afas_sf_assets.defs.afas_targets import AFAS_TARGET_ASSETS
from afas_sf_assets.defs.declared import TREE
from afas_sf_assets.defs.dry_run import dry_run
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.defs.salesforce_assets import SALESFORCE_TARGET_ASSETS
from afas_sf_assets.defs.schedules import JOBS, SCHEDULES
from afas_sf_assets.defs.sensors import SENSORS


def _optional(name: str) -> dg.EnvVar | None:
    """A secret that only some set-ups use: read through EnvVar when set, so it never sits in config."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict[str, dg.ConfigurableResource]:
    env = os.environ.get
    return {
        "afas": AfasResource(
            token=_optional("AFAS_TOKEN"),
            auth=env("AFAS_AUTH", "token"),
            client_id=env("AFAS_CLIENT_ID"),
            client_secret=_optional("AFAS_CLIENT_SECRET"),
            base_url=env("AFAS_BASE_URL"),
            environment=env("AFAS_ENVIRONMENT"),
            environment_type=env("AFAS_ENVIRONMENT_TYPE", "production"),
            ca_bundle=env("AFAS_CA_BUNDLE"),
            integration_id=env("AFAS_INTEGRATION_ID"),
        ),
        "salesforce": SalesforceResource(
            auth=env("SF_AUTH", "client_credentials"),
            login_url=env("SF_LOGIN_URL", "https://login.salesforce.com"),
            consumer_key=env("SF_CONSUMER_KEY"),
            consumer_secret=_optional("SF_CONSUMER_SECRET"),
            username=env("SF_USERNAME"),
            password=_optional("SF_PASSWORD"),
            security_token=_optional("SF_SECURITY_TOKEN"),
            private_key_file=env("SF_PRIVATE_KEY_FILE"),
            instance_url=env("SF_INSTANCE_URL"),
            access_token=_optional("SF_ACCESS_TOKEN"),
            ca_bundle=env("SF_CA_BUNDLE"),
            api_version=env("SF_API_VERSION", "62.0"),
            bulk_threshold=int(env("SF_BULK_THRESHOLD", "2000")),
            bulk_poll_seconds=float(env("SF_BULK_POLL_SECONDS", "0.25")),
            bulk_timeout_seconds=float(env("SF_BULK_TIMEOUT_SECONDS", "3600")),
        ),
        "state": StateResource(
            url=env("AFAS_SF_STATE_URL"),
            retention_days=float(env("AFAS_SF_LOG_RETENTION_DAYS", "14")),
            api_reserve=float(env("AFAS_SF_API_RESERVE", "0.2")),
        ),
    }


ALL_ASSETS = [*AFAS_SOURCE_ASSETS, *SALESFORCE_TARGET_ASSETS, *AFAS_TARGET_ASSETS]

# Observing the AFAS sources records their newest modification date as data version, so the UI shows
# which Salesforce targets are stale.
OBSERVE_JOB = "observe_afas_sources"
observe_afas_sources = dg.define_asset_job(
    OBSERVE_JOB, selection=dg.AssetSelection.assets(*(asset.key for asset in AFAS_SOURCE_ASSETS))
)

# Each flow's asset, checks and sensor come from its component (afas_sf_assets/flow_defs/<flow>/defs.yaml);
# what serves every flow is added here.
defs = dg.Definitions.merge(
    TREE.build_defs(),
    dg.Definitions(
        assets=AFAS_SOURCE_ASSETS,
        resources=build_resources(),
        jobs=[observe_afas_sources, dry_run, *JOBS],
        schedules=SCHEDULES,
        sensors=SENSORS,
        # A run's steps share one process: a sensor-triggered change reaches Salesforce without starting a
        # Python process per asset and check.
        executor=dg.in_process_executor,
    ),
)
