"""Dry runs: a job of plan steps, one per flow in lineage order, that writes nothing and so records no
materialisation; each plan is in the run log and in its step's output metadata."""

import dagster as dg

from afas_sf_assets.defs.afas_targets import send_orders, send_to_afas
from afas_sf_assets.defs.declared import DECLARED, FLOWS, TO_AFAS
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.defs.salesforce_assets import SyncConfig, report_metadata, sync_flow
from afas_sf_assets.flows.orders_out import AFTER as AFAS_ORDERS_AFTER
from afas_sf_assets.flows.orders_out import FLOW as AFAS_ORDERS
from afas_sf_assets.mapping.model import ToAfasMapping
from afas_sf_assets.sync.flow import Flow

DRY_RUN_JOB = "dry_run"
DRY_RUN_TAG = "afas-sf/dry-run"


def plan_step(flow: str) -> str:
    return f"plan_{flow}"


def _plan(name: str, after: list[str], flow: Flow | ToAfasMapping | None) -> dg.OpDefinition:
    @dg.op(
        name=plan_step(name),
        ins={plan_step(dep): dg.In(dg.Nothing) for dep in after},
        out=dg.Out(dg.Nothing),
        description=f"What the {name} flow would create, update and fail, without writing.",
        tags={"afas-sf/flow": name},
    )
    def plan(
        context: dg.OpExecutionContext,
        config: SyncConfig,
        afas: AfasResource,
        salesforce: SalesforceResource,
        state: StateResource,
    ) -> dg.Output[None]:
        if flow is None:
            report = send_orders(context, afas, salesforce, state, dry_run=True)
        elif isinstance(flow, ToAfasMapping):
            report = send_to_afas(flow, context, afas, salesforce, state, full=config.full, dry_run=True)
        else:
            report = sync_flow(flow, context, afas, salesforce, state, full=config.full, dry_run=True)
        context.log.info(f"plan: {report.summary_line()}")
        return dg.Output(None, metadata=report_metadata(report))

    return plan


# The plans run in the order the assets do.
AFTER = (
    {flow.name: list(flow.depends_on) for flow in FLOWS}
    | ({AFAS_ORDERS: list(AFAS_ORDERS_AFTER)} if DECLARED.orders_to_afas else {})
    | {mapping.flow: list(mapping.after) for mapping in TO_AFAS}
)
DECLARED: dict[str, Flow | ToAfasMapping] = {flow.name: flow for flow in FLOWS} | {m.flow: m for m in TO_AFAS}
PLANS = {name: _plan(name, after, DECLARED.get(name)) for name, after in AFTER.items()}


@dg.job(
    name=DRY_RUN_JOB,
    tags={DRY_RUN_TAG: "true"},
    description="Plans every flow (or the ones selected) without writing to Salesforce or AFAS: the asset history "
    "keeps only what was written.",
)
def dry_run() -> None:
    done: dict[str, object] = {}
    for name, plan in PLANS.items():
        done[name] = plan(**{plan_step(dep): done[dep] for dep in AFTER[name]})
