"""AFAS entities as observable source assets: their data version is AFAS's newest change, in true UTC.

The same version is computed by the observation and by the change sensor, which records it each time it
sees a change, so the UI's staleness follows AFAS.
"""

import hashlib
import json
import warnings
from datetime import UTC

import dagster as dg

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.connector_set import GetConnectorSpec
from afas_sf_assets.afas.dates import parse_afas_datetime
from afas_sf_assets.defs.declared import SOURCES
from afas_sf_assets.defs.keys import group, source_key
from afas_sf_assets.defs.resources import AfasResource

# Rows at the newest modification date that go into the fingerprint: two changes within one second
# still differ in content, so no change is skipped because it shared a timestamp with another.
PROBE_ROWS = 20
# The tag Dagster reads an observation's data version from.
DATA_VERSION_TAG = "dagster/data_version"


def fingerprint(rows: list[dict[str, object]], field: str) -> dict[str, str] | None:
    if not rows:
        return None
    newest = rows[0].get(field)
    same_moment = [row for row in rows if row.get(field) == newest]
    digest = hashlib.sha256(json.dumps(same_moment, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"at": str(newest), "digest": digest}


def probe(client: AfasClient, spec: GetConnectorSpec) -> dict[str, str] | None:
    """One call: the connector's newest rows, as a fingerprint of its newest change."""
    assert spec.modified_field is not None
    return fingerprint(client.latest_rows(spec.id, spec.modified_field, take=PROBE_ROWS), spec.modified_field)


def source_version(print_: dict[str, str] | None) -> str:
    """`2026-07-01T08:00:00+00:00#1f3a…`: AFAS writes local time with a `Z`; this is the real moment."""
    if print_ is None:
        return "empty"
    moment = parse_afas_datetime(print_["at"]).astimezone(UTC).isoformat()
    return f"{moment}#{print_['digest']}"


def _observable(spec: GetConnectorSpec) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=source_key(spec.id),
        group_name=group("afas_sources"),
        description=f"AFAS GetConnector `{spec.id}`: {spec.description}.",
        metadata={"connector": spec.id, "key": ", ".join(spec.key)},
    )
    def observe(afas: AfasResource) -> dg.DataVersion:
        with afas.client() as client:
            return dg.DataVersion(source_version(probe(client, spec)))

    return observe


with warnings.catch_warnings():
    # observable_source_asset is marked beta; it is still Dagster's way to version external data.
    warnings.simplefilter("ignore", dg.BetaWarning)
    AFAS_SOURCE_ASSETS = [_observable(spec) for spec in SOURCES.values() if spec.modified_field]
