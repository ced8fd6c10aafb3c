"""Salesforce targets as assets: each body calls the engine for one flow and turns its report into metadata."""

from collections.abc import Callable, Sequence

import dagster as dg

from afas_sf_assets.defs.declared import FLOWS
from afas_sf_assets.defs.keys import flow_pool, group, source_key, target_key
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.mapping.model import load_mapping
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS, SyncEngine
from afas_sf_assets.sync.flow import Flow
from afas_sf_assets.sync.report import FlowReport

MAX_FAILURE_ROWS = 20
# Integer metadata that are API calls, not record counts.
CALL_METADATA = ("afas_calls", "salesforce_calls", "salesforce_api_used", "salesforce_api_remaining")


class SyncConfig(dg.Config):
    full: bool = False  # ignore the high-water mark and the hashes: resend everything


def report_metadata(report: FlowReport) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {name: dg.MetadataValue.int(value) for name, value in report.counts.items()}
    metadata["status"] = dg.MetadataValue.text(report.status + (f": {report.note}" if report.note else ""))
    metadata["afas_calls"] = dg.MetadataValue.int(report.afas_calls)
    metadata["salesforce_calls"] = dg.MetadataValue.int(report.salesforce_calls)
    if report.api_limit:
        metadata["salesforce_api_used"] = dg.MetadataValue.int(report.api_used or 0)
        metadata["salesforce_api_remaining"] = dg.MetadataValue.int(report.api_limit - (report.api_used or 0))
    metadata["seconds"] = dg.MetadataValue.float(round(report.seconds, 2))
    if report.failures:
        lines = ["| key | outcome | code | field | message |", "|---|---|---|---|---|"]
        for failure in report.failures[:MAX_FAILURE_ROWS]:
            message = failure.message.replace("|", "\\|").replace("\n", " ")[:200]
            lines.append(f"| {failure.key} | {failure.outcome} | {failure.code} | {failure.field or ''} | {message} |")
        if len(report.failures) > MAX_FAILURE_ROWS:
            lines.append(
                f"| … | {len(report.failures) - MAX_FAILURE_ROWS} more in `afas-sf log --flow {report.flow}` | | | |"
            )
        metadata["failures"] = dg.MetadataValue.md("\n".join(lines))
    warnings = [f for f in report.failures if f.outcome == "warning"]
    if warnings:
        metadata["warning_messages"] = dg.MetadataValue.json(
            [f"{w.key}: {w.code}: {w.message}" for w in warnings[:MAX_FAILURE_ROWS]]
        )
    return metadata


def materialize_result(context: dg.AssetExecutionContext, report: FlowReport) -> dg.MaterializeResult:
    """The run log gets the one-line summary; the asset gets the counts and failures as metadata."""
    context.log.info(report.summary_line())
    return dg.MaterializeResult(metadata=report_metadata(report))


def sources_of(flow: Flow) -> list[dg.AssetKey]:
    mapping = load_mapping(DEFAULT_MAPPINGS / flow.mapping)
    return [source_key(connector) for connector in (mapping.source.connector, *flow.reads_also)]


def sync_flow(
    flow: Flow,
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    afas: AfasResource,
    salesforce: SalesforceResource,
    state: StateResource,
    *,
    full: bool,
    dry_run: bool,
) -> FlowReport:
    with afas.client() as afas_client, salesforce.client() as sf_client:
        engine = SyncEngine(
            afas_client, sf_client, state.state(), api_reserve=state.api_reserve, progress=context.log.info
        )
        return engine.run(flow, run_id=context.run.run_id, full=full, dry_run=dry_run)


# How an asset runs its flow: (context, afas, salesforce, state, full) → what the run did.
Send = Callable[[dg.AssetExecutionContext, AfasResource, SalesforceResource, StateResource, bool], FlowReport]


def flow_asset(
    name: str,
    *,
    key: dg.AssetKey,
    deps: Sequence[dg.AssetKey],
    group_name: str,
    kind: str,
    description: str,
    mapping_file: str,
    send: Send,
) -> dg.AssetsDefinition:
    """The asset of one flow, either way: it runs the flow (`full` from its run config) and turns the report
    into metadata."""

    @dg.asset(
        key=key,
        deps=deps,
        group_name=group(group_name),
        kinds={kind},
        description=description,
        metadata={"mapping": f"mappings/{mapping_file}"},
        pool=flow_pool(name),
    )
    def flow_target(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        afas: AfasResource,
        salesforce: SalesforceResource,
        state: StateResource,
    ) -> dg.MaterializeResult:
        return materialize_result(context, send(context, afas, salesforce, state, config.full))

    return flow_target


def _target_asset(flow: Flow) -> dg.AssetsDefinition:
    return flow_asset(
        flow.name,
        key=target_key(flow.name),
        deps=[*sources_of(flow), *(target_key(name) for name in flow.depends_on)],
        group_name="salesforce_targets",
        kind="salesforce",
        description=flow.description,
        mapping_file=flow.mapping,
        send=lambda context, afas, salesforce, state, full: sync_flow(
            flow, context, afas, salesforce, state, full=full, dry_run=False
        ),
    )


# By mapping file, as the components name them.
SALESFORCE_TARGET_ASSETS_BY_FILE = {flow.mapping: _target_asset(flow) for flow in FLOWS}
SALESFORCE_TARGET_ASSETS = list(SALESFORCE_TARGET_ASSETS_BY_FILE.values())
