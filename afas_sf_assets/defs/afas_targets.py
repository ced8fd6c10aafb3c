"""AFAS targets: Salesforce orders sent into AFAS as sales orders (or quotations, invoices, mutations), and
the Salesforce → AFAS flows that mapping files declare."""

import dagster as dg

from afas_sf_assets.defs.declared import DECLARED, TO_AFAS
from afas_sf_assets.defs.keys import afas_target_key, flow_pool, group, target_key
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.defs.salesforce_assets import flow_asset, materialize_result
from afas_sf_assets.flows.generic_out import ToAfasFlow
from afas_sf_assets.flows.orders_out import AFTER, FLOW, OrdersToAfas
from afas_sf_assets.flows.registry import ORDERS_TO_AFAS_FILE
from afas_sf_assets.mapping.model import ToAfasMapping
from afas_sf_assets.sync.report import FlowReport

AFAS_ORDERS_KEY = afas_target_key(FLOW)


@dg.asset(
    key=AFAS_ORDERS_KEY,
    deps=[target_key(name) for name in AFTER],
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


def send_to_afas(
    mapping: ToAfasMapping,
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    afas: AfasResource,
    salesforce: SalesforceResource,
    state: StateResource,
    *,
    full: bool,
    dry_run: bool,
) -> FlowReport:
    with afas.client() as afas_client, salesforce.client() as sf_client:
        flow = ToAfasFlow(mapping, afas_client, sf_client, state.state(), api_reserve=state.api_reserve)
        return flow.run(run_id=context.run.run_id, full=full, dry_run=dry_run)


def _to_afas_asset(mapping: ToAfasMapping) -> dg.AssetsDefinition:
    where = mapping.path.name if mapping.path else mapping.flow
    return flow_asset(
        mapping.flow,
        key=afas_target_key(mapping.flow),
        deps=[target_key(name) if name != FLOW else AFAS_ORDERS_KEY for name in mapping.after],
        group_name="afas_targets",
        kind="afas",
        description=mapping.description
        or f"Salesforce {mapping.source.object} → AFAS {mapping.target.connector}, declared in mappings/{where}.",
        mapping_file=where,
        send=lambda context, afas, salesforce, state, full: send_to_afas(
            mapping, context, afas, salesforce, state, full=full, dry_run=False
        ),
    )


DECLARED_TO_AFAS_ASSETS = [_to_afas_asset(mapping) for mapping in TO_AFAS]
# By mapping (or settings) file, as the components name them.
AFAS_TARGET_ASSETS_BY_FILE = {
    **({ORDERS_TO_AFAS_FILE: afas_orders} if DECLARED.orders_to_afas else {}),
    **{
        mapping.path.name: asset
        for mapping, asset in zip(TO_AFAS, DECLARED_TO_AFAS_ASSETS, strict=True)
        if mapping.path
    },
}
AFAS_TARGET_ASSETS = list(AFAS_TARGET_ASSETS_BY_FILE.values())
TARGET_KEYS = {
    **({FLOW: AFAS_ORDERS_KEY} if DECLARED.orders_to_afas else {}),
    **{mapping.flow: afas_target_key(mapping.flow) for mapping in TO_AFAS},
}
