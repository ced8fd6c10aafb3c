"""Every flow the project runs, in dependency order: the built-in ones, then those that mapping files in
the mapping folder declare on their own (flows/generic.py)."""

from __future__ import annotations

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, GetConnectorSpec
from afas_sf_assets.flows.catalog import CATALOG_FLOWS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.generic import yaml_flows
from afas_sf_assets.flows.generic_out import to_afas_flows
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.orders_out import FLOW as ORDERS_TO_AFAS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.flows.stock import STOCK_FLOW
from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS, ToAfasMapping, load_mapping
from afas_sf_assets.sync.flow import Flow

BUILT_IN: tuple[Flow, ...] = (*CATALOG_FLOWS, CUSTOMERS, PRICES, STOCK_FLOW, ORDERS, SHIPMENTS)
FLOWS: tuple[Flow, ...] = (*BUILT_IN, *yaml_flows(DEFAULT_MAPPINGS, BUILT_IN))
FLOWS_BY_NAME: dict[str, Flow] = {flow.name: flow for flow in FLOWS}
# Salesforce → AFAS flows that mapping files declare (`direction: to_afas`), after the built-in orders flow.
TO_AFAS: tuple[ToAfasMapping, ...] = to_afas_flows(DEFAULT_MAPPINGS, [*FLOWS_BY_NAME, ORDERS_TO_AFAS])


def _source_of(flow: Flow) -> GetConnectorSpec:
    mapping = load_mapping(DEFAULT_MAPPINGS / flow.mapping)
    source = mapping.source
    return GetConnectorSpec(source.connector, f"read by the {flow.name} flow", source.key, (), source.modified)


# Every GetConnector the flows read: the project's set and those of the user's own that flows declared in
# their mapping files (observed as source assets and probed by the change sensor).
SOURCES: dict[str, GetConnectorSpec] = {
    **CONNECTOR_SET,
    **{spec.id: spec for spec in map(_source_of, FLOWS[len(BUILT_IN) :]) if spec.id not in CONNECTOR_SET},
}
