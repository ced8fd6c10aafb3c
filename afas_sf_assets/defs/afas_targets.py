"""AFAS targets: Salesforce orders sent into AFAS as sales orders (or quotations, invoices, mutations)."""

import dagster as dg

from afas_sf_assets.defs.keys import afas_target_key, flow_pool, group, target_key
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.defs.salesforce_assets import materialize_result
from afas_sf_assets.flows.orders_out import FLOW, OrdersToAfas
from afas_sf_assets.sync.report import FlowReport

AFAS_ORDERS_KEY = afas_target_key(FLOW)
# The Salesforce flows whose records an order to AFAS refers to.
AFAS_ORDERS_AFTER = ("customers", "products")


@dg.asset(
    key=AFAS_ORDERS_KEY,
    deps=[target_key(name) for name in AFAS_ORDERS_AFTER],
    group_name=group("afas_targets"),
    kinds={"afas"},
    description="Salesforce Orders (status filter in mappings/afas_orders.yaml) → AFAS FbSales, debtor found by "
    "e-mail or created; the AFAS number is written back onto the Salesforce order.",
    metadata={"settings": "mappings/afas_orders.yaml"},
    pool=flow_pool(FLOW),
)
def afas_orders(
    context: dg.AssetExecutionContext, afas: AfasResource, salesforce: SalesforceResource, state: StateResource
) -> dg.MaterializeResult:
    return materialize_result(context, send_orders(context, afas, salesforce, state, dry_run=False))


def send_orders(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    afas: AfasResource,
    salesforce: SalesforceResource,
    state: StateResource,
    *,
    dry_run: bool,
) -> FlowReport:
    with afas.client() as afas_client, salesforce.client() as sf_client:
        return OrdersToAfas(afas_client, sf_client, state.state()).run(run_id=context.run.run_id, dry_run=dry_run)


AFAS_TARGET_ASSETS = [afas_orders]
TARGET_KEYS = {FLOW: AFAS_ORDERS_KEY}
