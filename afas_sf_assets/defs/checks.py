"""Asset checks on each Salesforce target: failing records within a threshold, and reconciliation drift."""

import os

import dagster as dg

from afas_sf_assets import alerts
from afas_sf_assets.defs.declared import FLOWS
from afas_sf_assets.defs.keys import target_key
from afas_sf_assets.defs.resources import AfasResource, SalesforceResource, StateResource
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.flow import Flow
from afas_sf_assets.sync.reconcile import MAX_KEYS_SHOWN, reconcile
from afas_sf_assets.sync.state import RETRIED

MAX_FAILING = int(os.environ.get("AFAS_SF_MAX_FAILED_RECORDS", "0"))
BLOCKING = os.environ.get("AFAS_SF_BLOCK_ON_FAILED", "false").lower() == "true"
REPAIR = os.environ.get("AFAS_SF_RECONCILE_REPAIR", "false").lower() == "true"


def _keys(keys: list[str]) -> dg.MetadataValue:
    shown = keys[:MAX_KEYS_SHOWN]
    more = f" … and {len(keys) - len(shown)} more" if len(keys) > len(shown) else ""
    return dg.MetadataValue.text(", ".join(shown) + more if shown else "—")


def _failed_records_check(flow: Flow) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=target_key(flow.name),
        name="failed_records",
        blocking=BLOCKING,
        description=f"Records failed, quarantined or waiting stay at or below {MAX_FAILING} "
        "(AFAS_SF_MAX_FAILED_RECORDS); blocking when AFAS_SF_BLOCK_ON_FAILED is true.",
    )
    def check(context: dg.AssetCheckExecutionContext, state: StateResource) -> dg.AssetCheckResult:
        store = state.state()
        failing = [e for e in store.iter_entries(flow.name, RETRIED)]
        passed = len(failing) <= MAX_FAILING
        if not passed:
            alerts.send(
                alerts.Alert(
                    title=f"afas-sf: {len(failing)} {flow.name} records need attention",
                    flow=flow.name,
                    run_id=context.run.run_id,
                    run_url=alerts.run_url(context.run.run_id),
                    counts=store.counts(flow.name),
                    records=[
                        alerts.FailedRecord(e.key, e.error_code or e.status.value, e.error_field, e.error_message or "")
                        for e in failing
                    ],
                )
            )
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if BLOCKING else dg.AssetCheckSeverity.WARN,
            metadata={
                "failing": len(failing),
                "threshold": MAX_FAILING,
                "keys": _keys([f"{e.key} ({e.error_code or e.status.value})" for e in failing]),
            },
        )

    return check


def _reconciliation_check(flow: Flow) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=target_key(flow.name),
        name="reconciliation",
        description="What AFAS holds against what Salesforce holds for the records this project manages: "
        "missing in Salesforce, changed in Salesforce, gone from AFAS. AFAS_SF_RECONCILE_REPAIR=true "
        "repairs the drift on the next run.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, afas: AfasResource, salesforce: SalesforceResource, state: StateResource
    ) -> dg.AssetCheckResult:
        with afas.client() as afas_client, salesforce.client() as sf_client:
            engine = SyncEngine(afas_client, sf_client, state.state())
            drift = reconcile(engine, flow, run_id=context.run.run_id, repair=REPAIR)
        if drift.skipped:
            return dg.AssetCheckResult(passed=True, metadata={"skipped": drift.skipped})
        if drift.total:
            kinds = (
                ("MISSING_IN_SALESFORCE", drift.missing_in_salesforce, "deleted in Salesforce"),
                ("CHANGED_IN_SALESFORCE", drift.changed_in_salesforce, "modified in Salesforce after the last sync"),
                ("GONE_FROM_AFAS", drift.gone_from_afas, "no longer in AFAS"),
            )
            alerts.send(
                alerts.Alert(
                    title=f"afas-sf: {drift.total} {flow.name} records drifted"
                    + (" (repaired)" if drift.repaired else ""),
                    flow=flow.name,
                    run_id=context.run.run_id,
                    run_url=alerts.run_url(context.run.run_id),
                    counts={
                        "missing_in_salesforce": len(drift.missing_in_salesforce),
                        "changed_in_salesforce": len(drift.changed_in_salesforce),
                        "gone_from_afas": len(drift.gone_from_afas),
                    },
                    records=[
                        alerts.FailedRecord(key, code, None, meaning) for code, keys, meaning in kinds for key in keys
                    ],
                )
            )
        return dg.AssetCheckResult(
            passed=drift.total == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "checked": drift.checked,
                "not_synced_yet": drift.not_synced_yet,
                "missing_in_salesforce": _keys(drift.missing_in_salesforce),
                "changed_in_salesforce": _keys(drift.changed_in_salesforce),
                "gone_from_afas": _keys(drift.gone_from_afas),
                "repaired": drift.repaired,
                "drift": drift.total,
            },
        )

    return check


CHECKS_BY_FLOW = {flow.name: [_failed_records_check(flow), _reconciliation_check(flow)] for flow in FLOWS}
CHECKS = [check for checks in CHECKS_BY_FLOW.values() for check in checks]
