"""Every flow the project runs, in dependency order."""

from __future__ import annotations

from afas_sf_assets.flows.catalog import CATALOG_FLOWS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.flows.stock import STOCK_FLOW
from afas_sf_assets.sync.flow import Flow

FLOWS: tuple[Flow, ...] = (*CATALOG_FLOWS, CUSTOMERS, PRICES, STOCK_FLOW, ORDERS, SHIPMENTS)
FLOWS_BY_NAME: dict[str, Flow] = {flow.name: flow for flow in FLOWS}
