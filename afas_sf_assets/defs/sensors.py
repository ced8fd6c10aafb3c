"""Sensors: AFAS changes and new Salesforce orders request runs; failed runs raise alerts.

The sensors only probe (one small call per AFAS GetConnector, one SOQL query): paging through real
data stays in the assets, since a sensor evaluation must finish within 60 seconds.
"""

import hashlib
import json
import os
from collections.abc import Callable

import dagster as dg

from afas_sf_assets import alerts
from afas_sf_assets.defs.afas_sources import DATA_VERSION_TAG, probe, source_version
from afas_sf_assets.defs.afas_targets import AFAS_ORDERS_KEY, TARGET_KEYS
from afas_sf_assets.defs.declared import DECLARED, FLOWS, SOURCES, TO_AFAS
from afas_sf_assets.defs.keys import source_key, target_key
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource
from afas_sf_assets.defs.salesforce_assets import sources_of
from afas_sf_assets.flows.orders_out import OrdersOutConfig
from afas_sf_assets.flows.registry import ORDERS_TO_AFAS_FILE
from afas_sf_assets.headless import flow_of_step, innermost_message
from afas_sf_assets.mapping.model import ToAfasMapping, load_yaml_model
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS

INTERVAL = int(os.environ.get("AFAS_SF_SENSOR_INTERVAL", "60"))
TARGETS = [target_key(flow.name) for flow in FLOWS]
# The GetConnectors each flow reads, taken from its mapping once, as the asset graph is: a tick asks
# for them per changed connector.
READS = {flow.name: {key.path[-1] for key in sources_of(flow)} for flow in FLOWS}


def affected_targets(connectors: set[str]) -> list[dg.AssetKey]:
    """The Salesforce targets reading these GetConnectors, and every target downstream of them."""
    names = {name for name, reads in READS.items() if reads & connectors}
    grew = True
    while grew:
        more = {flow.name for flow in FLOWS if set(flow.depends_on) & names} - names
        names |= more
        grew = bool(more)
    return [target_key(flow.name) for flow in FLOWS if flow.name in names]


def readers(connector: str) -> list[dg.AssetKey]:
    """The targets that read a GetConnector themselves."""
    return [target_key(name) for name, reads in READS.items() if connector in reads]


WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
SETTLED = "_settled"  # the cursor's key for the versions no longer to check
UNDER_WAY = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def targets_in_runs(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition | None, statuses: list[dg.DagsterRunStatus]
) -> dict[dg.AssetKey, str]:
    """Each target a run in one of these states will materialise, with that run's id."""
    found: dict[dg.AssetKey, str] = {}
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=statuses)):
        keys = run.asset_selection
        if keys is None and repository is not None and repository.has_job(run.job_name):
            keys = repository.get_job(run.job_name).asset_layer.executable_asset_keys
        for key in keys or ():
            found.setdefault(key, run.run_id)
    return found


def synced_from(instance: dg.DagsterInstance, connector: str, version: str) -> bool:
    """Whether every target reading the connector last materialised from this version of it: what a
    fresh sensor, with no cursor of its own, learns from the instance instead of resyncing all."""
    tag = f"dagster/input_data_version/afas/{connector}"
    for key in readers(connector):
        event = instance.get_latest_materialization_event(key)
        materialization = event.asset_materialization if event else None
        if materialization is None or materialization.tags.get(tag) != version:
            return False
    return True


@dg.sensor(
    name="afas_changes",
    minimum_interval_seconds=INTERVAL,
    asset_selection=dg.AssetSelection.assets(*TARGETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Probes each AFAS GetConnector's newest modification date and requests a run of the Salesforce "
    "targets that read it (and what depends on them); a change whose targets are being synced waits for that run, "
    "and a change whose run failed or was killed is requested once more.",
)
def afas_changes(context: dg.SensorEvaluationContext, afas: AfasResource) -> dg.SensorResult | dg.SkipReason:
    latest: dict[str, dict[str, str] | None] = {}
    with afas.client() as client:
        for spec in SOURCES.values():
            if spec.modified_field:
                latest[spec.id] = probe(client, spec)
    if context.cursor:
        seen: dict[str, object] = json.loads(context.cursor)
    else:
        seen = {c: p for c, p in latest.items() if synced_from(context.instance, c, source_version(p))}
    # Per connector, the version already settled: synced, or asked for once more after its run failed.
    kept = seen.pop(SETTLED, None)
    settled: dict[str, str] = dict(kept) if isinstance(kept, dict) else {}
    changed = {connector for connector, print_ in latest.items() if seen.get(connector) != print_}
    waiting = targets_in_runs(context.instance, context.repository_def, WAITING)
    under_way = targets_in_runs(context.instance, context.repository_def, UNDER_WAY)
    retried = []
    for connector in sorted(set(latest) - changed):
        version = source_version(latest[connector])
        if settled.get(connector) == version or any(k in waiting or k in under_way for k in readers(connector)):
            continue
        settled[connector] = version
        if not synced_from(context.instance, connector, version):
            # The run that was to bring this version failed or was killed: ask once more, not again after.
            changed.add(connector)
            retried.append(connector)
    held: dict[str, str] = {}  # connector → the run it waits for
    for connector in sorted(changed):
        targets = affected_targets({connector})
        if busy := [under_way[key] for key in targets if key in under_way]:
            # That run may have read AFAS before this change: ask again when it has finished.
            held[connector] = busy[0]
        elif targets and all(key in waiting for key in targets):
            # A run not yet started reads AFAS when it starts, and so sees this change.
            changed.discard(connector)
            seen[connector] = latest[connector]
    requested = changed - set(held)
    cursor: dict[str, object] = {**seen, **{c: latest[c] for c in requested}, SETTLED: settled}
    targets = affected_targets(requested)
    # What the sensor saw is an observation of the source: the run it requests records these versions.
    observations = [
        dg.AssetObservation(
            asset_key=source_key(connector),
            tags={DATA_VERSION_TAG: source_version(latest[connector])},
            metadata={"newest_change_afas_time": (latest[connector] or {}).get("at", "none")},
        )
        for connector in sorted(requested)
    ]
    waits = "; ".join(f"{c} changed while run {run} syncs its targets" for c, run in sorted(held.items()))
    if not targets:
        skip = dg.SkipReason(waits or "no change in AFAS since the last probe")
        if json.dumps(cursor, sort_keys=True) == context.cursor:
            return skip
        return dg.SensorResult(skip_reason=skip, cursor=json.dumps(cursor, sort_keys=True))
    tags = {"afas-sf/changed": ",".join(sorted(requested))[:200]}
    if again := sorted(set(retried) & requested):
        tags["afas-sf/requested-again"] = ",".join(again)[:200]
    request = dg.RunRequest(asset_selection=targets, tags=tags)
    if waits:
        context.log.info(f"waiting: {waits}")
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor, sort_keys=True), asset_events=observations)


def _salesforce_waiting(name: str, key: dg.AssetKey, what: str, soql: Callable[[], str]) -> dg.SensorDefinition:
    """A sensor that requests a Salesforce → AFAS flow when the records it sends (`soql`: Id and modification
    date, newest first) appear or change."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=INTERVAL,
        asset_selection=dg.AssetSelection.assets(key),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests {key.to_user_string()} when {what} appear or change.",
    )
    def waiting(context: dg.SensorEvaluationContext, salesforce: SalesforceResource) -> dg.SensorResult | dg.SkipReason:
        with salesforce.client() as client:
            pending = [list(row.values()) for row in client.iter_query(soql())]
        digest = hashlib.sha256(json.dumps(pending, default=str).encode()).hexdigest()[:16] if pending else ""
        if not pending:
            return dg.SensorResult(skip_reason=dg.SkipReason(f"no {what} waiting for AFAS"), cursor=digest)
        if digest == context.cursor:
            return dg.SkipReason(f"the waiting {what} were already requested")
        return dg.SensorResult(run_requests=[dg.RunRequest(asset_selection=[key])], cursor=digest)

    return waiting


def _orders_waiting() -> str:
    settings = load_yaml_model(DEFAULT_MAPPINGS / "afas_orders.yaml", OrdersOutConfig, "orders-to-AFAS settings")
    return (
        f"SELECT Id, LastModifiedDate FROM Order WHERE {settings.waiting_for_afas()} "
        "ORDER BY LastModifiedDate DESC LIMIT 50"
    )


def _declared_waiting(mapping: ToAfasMapping) -> Callable[[], str]:
    source = mapping.source
    where = f" WHERE {source.where}" if source.where else ""
    soql = f"SELECT Id, {source.modified} FROM {source.object}{where} ORDER BY {source.modified} DESC LIMIT 50"
    return lambda: soql


# Each built by the component of the flow it asks for (defs/flow_definitions.py), by its mapping file.
WAITING_SENSOR_BY_FILE = {
    **(
        {
            ORDERS_TO_AFAS_FILE: _salesforce_waiting(
                "salesforce_orders", AFAS_ORDERS_KEY, "Salesforce orders", _orders_waiting
            )
        }
        if DECLARED.orders_to_afas
        else {}
    ),
    **{
        mapping.path.name: _salesforce_waiting(
            f"salesforce_{mapping.flow}",
            TARGET_KEYS[mapping.flow],
            f"{mapping.source.object} records",
            _declared_waiting(mapping),
        )
        for mapping in TO_AFAS
        if mapping.path
    },
}


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends an alert to the configured channels when a run fails.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    steps = context.get_step_failure_events()
    flows = ", ".join(sorted({flow_of_step(e.step_key) for e in steps if e.step_key})) or run.job_name
    errors = [
        innermost_message(e.event_specific_data.error)  # type: ignore[union-attr]
        for e in steps
        if e.event_specific_data and getattr(e.event_specific_data, "error", None)
    ]
    alerts.send(
        alerts.Alert(
            title=f"afas-sf run failed: {flows}",
            flow=flows,
            run_id=run.run_id,
            run_url=alerts.run_url(run.run_id),
            error="; ".join(errors)[:2000] or context.failure_event.message,
        )
    )


SENSORS = [afas_changes, alert_on_run_failure]
