"""AFAS entities as observable source assets: their data version is AFAS's newest modification date."""

import warnings

import dagster as dg

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, GetConnectorSpec
from afas_sf_assets.defs.resources import AfasResource


def _observable(spec: GetConnectorSpec) -> dg.SourceAsset:
    modified_field = spec.modified_field

    @dg.observable_source_asset(
        key=["afas", spec.id],
        group_name="afas_sources",
        description=f"AFAS GetConnector `{spec.id}`: {spec.description}.",
        metadata={"connector": spec.id, "key": ", ".join(spec.key)},
    )
    def observe(afas: AfasResource) -> dg.DataVersion:
        # One row ordered descending: cheap enough to run every sensor tick.
        with afas.client() as client:
            latest = client.latest_value(spec.id, modified_field) if modified_field else None
        return dg.DataVersion(str(latest or "empty"))

    return observe


with warnings.catch_warnings():
    # observable_source_asset is marked beta; it is still Dagster's way to version external data.
    warnings.simplefilter("ignore", dg.BetaWarning)
    AFAS_SOURCE_ASSETS = [_observable(spec) for spec in CONNECTOR_SET.values() if spec.modified_field]
