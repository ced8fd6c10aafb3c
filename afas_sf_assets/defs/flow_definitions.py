"""What each flow's component builds: its asset, its checks, and for a flow into AFAS the sensor that asks
for it."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from afas_sf_assets.defs.afas_targets import AFAS_TARGET_ASSETS_BY_FILE
from afas_sf_assets.defs.checks import CHECKS_BY_FLOW
from afas_sf_assets.defs.declared import DECLARED
from afas_sf_assets.defs.salesforce_assets import SALESFORCE_TARGET_ASSETS_BY_FILE
from afas_sf_assets.defs.sensors import WAITING_SENSOR_BY_FILE


def definitions_of(files: Sequence[str]) -> dg.Definitions:
    """The definitions of the flows these mapping files declare."""
    salesforce = [SALESFORCE_TARGET_ASSETS_BY_FILE[name] for name in files if name in SALESFORCE_TARGET_ASSETS_BY_FILE]
    return dg.Definitions(
        assets=[
            *salesforce,
            *(AFAS_TARGET_ASSETS_BY_FILE[name] for name in files if name in AFAS_TARGET_ASSETS_BY_FILE),
        ],
        asset_checks=[check for asset in salesforce for check in CHECKS_BY_FLOW[asset.key.path[-1]]],
        sensors=[WAITING_SENSOR_BY_FILE[name] for name in files if name in WAITING_SENSOR_BY_FILE],
    )


def folder_files() -> tuple[str, ...]:
    """The mapping files the mapping-folder component declares."""
    return DECLARED.from_folder
