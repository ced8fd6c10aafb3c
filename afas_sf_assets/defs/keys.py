"""Asset keys and pool names, prefixed by the tenant when one Dagster deployment serves several.

Dagster's asset graph, event log and concurrency pools are shared by every code location of an
instance. Two tenants' code locations (same package, other AFAS environment and Salesforce org) would
otherwise define the same asset keys, which Dagster refuses, and read each other's materialisations
and pool slots. With AFAS_SF_TENANT set, every key starts with the tenant and every pool names it.
"""

from __future__ import annotations

import os
import re

import dagster as dg

from afas_sf_assets.errors import UsageError

TENANT_VARIABLE = "AFAS_SF_TENANT"
# An asset key part and a pool name: Dagster allows letters, digits and underscores.
_TENANT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def tenant_from_env() -> str | None:
    value = os.environ.get(TENANT_VARIABLE, "").strip()
    if not value:
        return None
    if not _TENANT_NAME.match(value):
        raise UsageError(
            f"{TENANT_VARIABLE}={value!r} is not a tenant name: use lower-case letters, digits and "
            "underscores, starting with a letter (at most 40), e.g. acme_nl"
        )
    return value


TENANT = tenant_from_env()
_PREFIX = [TENANT] if TENANT else []
# Marks the runs `afas-sf sync` starts for a tenant; runs started through a code location carry Dagster's
# own `dagster/code_location` tag.
TENANT_TAG = "afas-sf/tenant"


def source_key(connector: str) -> dg.AssetKey:
    """The observable AFAS GetConnector."""
    return dg.AssetKey([*_PREFIX, "afas", connector])


def target_key(flow: str) -> dg.AssetKey:
    """A flow into Salesforce."""
    return dg.AssetKey([*_PREFIX, "salesforce", flow])


def afas_target_key(flow: str) -> dg.AssetKey:
    """A flow into AFAS."""
    return dg.AssetKey([*_PREFIX, "afas_targets", flow])


def flow_pool(flow: str) -> str:
    """The concurrency pool of a flow's asset: the instance gives every pool one slot (headless.py)."""
    return "_".join(["afas_sf", *_PREFIX, flow])


def group(name: str) -> str:
    """An asset group: the tenant's own in the UI's global lineage, where groups of all locations meet."""
    return "_".join([*_PREFIX, name])
