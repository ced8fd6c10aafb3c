"""AFAS targets: Salesforce orders sent into AFAS as sales orders (or quotations, invoices, mutations)."""

import dagster as dg

from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.defs.salesforce_assets import SyncConfig, flow_pool, materialize_result
from afas_sf_assets.flows.orders_out import FLOW, OrdersToAfas

AFAS_ORDERS_KEY = dg.AssetKey(["afas_targets", FLOW])


@dg.asset(
    key=AFAS_ORDERS_KEY,
    deps=[dg.AssetKey(["salesforce", "customers"]), dg.AssetKey(["salesforce", "products"])],
    group_name="afas_targets",
    kinds={"afas"},
    description="Salesforce Orders (status filter in mappings/afas_orders.yaml) → AFAS FbSales, debtor found by "
    "e-mail or created; the AFAS number is written back onto the Salesforce order.",
    metadata={"settings": "mappings/afas_orders.yaml"},
    pool=flow_pool(FLOW),
)
def afas_orders(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    afas: AfasResource,
    salesforce: SalesforceResource,
    state: StateResource,
) -> dg.MaterializeResult:
    with afas.client() as afas_client, salesforce.client() as sf_client:
        report = OrdersToAfas(afas_client, sf_client, state.state()).run(
            run_id=context.run.run_id, dry_run=config.dry_run
        )
    return materialize_result(context, report)


AFAS_TARGET_ASSETS = [afas_orders]
TARGET_KEYS = {FLOW: AFAS_ORDERS_KEY}
