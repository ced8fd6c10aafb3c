"""Nightly reconciliation: what AFAS holds, what the ledger says was sent, what Salesforce holds now.

Drift comes in three kinds, each with the offending keys:
- missing in Salesforce: the ledger says synced, but the Salesforce record is gone (deleted there);
- changed in Salesforce: the record was modified after the project last wrote it (by someone else);
- gone from AFAS: the ledger says synced, but AFAS no longer has the row.
Repairing makes the next run send the first two again (create-only fields stay as Salesforce has them)
and deactivates the third where the flow deactivates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from afas_sf_assets.sync.engine import SyncEngine, record_key
from afas_sf_assets.sync.flow import Flow, FlowContext
from afas_sf_assets.sync.report import FlowReport
from afas_sf_assets.sync.state import IN_SALESFORCE, LedgerEntry, RecordStatus

# Our own write and Salesforce's LastModifiedDate are stamped by two clocks.
CLOCK_SLACK = timedelta(seconds=5)
MAX_KEYS_SHOWN = 50


@dataclass
class Drift:
    flow: str
    checked: int = 0
    not_synced_yet: int = 0
    missing_in_salesforce: list[str] = field(default_factory=list)
    changed_in_salesforce: list[str] = field(default_factory=list)
    gone_from_afas: list[str] = field(default_factory=list)
    skipped: str | None = None
    repaired: int = 0

    @property
    def total(self) -> int:
        return len(self.missing_in_salesforce) + len(self.changed_in_salesforce) + len(self.gone_from_afas)


def _parse_salesforce_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("+0000", "+00:00").replace("Z", "+00:00"))


def reconcile(engine: SyncEngine, flow: Flow, *, run_id: str, repair: bool = False) -> Drift:
    ctx = engine.context(flow, run_id=run_id, dry_run=not repair)
    drift = Drift(flow.name)
    reason = flow.skip_when(ctx) if flow.skip_when else None
    if reason:
        drift.skipped = reason
        return drift
    source = ctx.mapping.source
    rows = engine.source_rows(ctx, None)
    in_afas = {key for row in rows if (key := record_key(row, source.key))}
    entries = [e for e in engine.state.iter_entries(flow.name, IN_SALESFORCE)]
    synced_keys = {e.key for e in entries}
    drift.checked = len(entries)
    drift.not_synced_yet = len(in_afas - synced_keys)
    drift.gone_from_afas = sorted(e.key for e in entries if e.key not in in_afas and not e.key.startswith("~"))
    prefixes = {o["keyPrefix"]: o["name"] for o in engine.salesforce.sobjects() if o.get("keyPrefix")}
    by_object: dict[str, list[str]] = {}
    for entry in entries:
        if entry.target_id and entry.target_id[:3] in prefixes:
            by_object.setdefault(prefixes[entry.target_id[:3]], []).append(entry.target_id)
    modified: dict[str, datetime] = {}
    for sobject, ids in by_object.items():
        for row in engine.salesforce.query_in(
            f"SELECT Id, LastModifiedDate FROM {sobject} WHERE Id IN {{values}}", ids
        ):
            modified[row["Id"]] = _parse_salesforce_time(row["LastModifiedDate"])
    written = engine.state.last_written(modified)
    for entry in entries:
        if not entry.target_id:
            continue
        if entry.target_id not in modified:
            drift.missing_in_salesforce.append(entry.key)
        elif entry.target_id in written and modified[entry.target_id] > written[entry.target_id] + CLOCK_SLACK:
            drift.changed_in_salesforce.append(entry.key)
    if repair and drift.total:
        _repair(engine, ctx, flow, drift, in_afas, entries)
    return drift


def _repair(
    engine: SyncEngine, ctx: FlowContext, flow: Flow, drift: Drift, in_afas: set[str], entries: list[LedgerEntry]
) -> None:
    by_key = {e.key: e for e in entries}
    resend = [
        LedgerEntry(key, None, None, RecordStatus.FAILED, "DRIFT", None, "missing in Salesforce; sent again")
        for key in drift.missing_in_salesforce
    ]
    resend += [
        LedgerEntry(
            key,
            by_key[key].target_id,
            None,
            RecordStatus.FAILED,
            "DRIFT",
            None,
            "changed in Salesforce; AFAS's values sent again",
        )
        for key in drift.changed_in_salesforce
    ]
    engine.state.save(flow.name, resend)
    drift.repaired = len(resend)
    if flow.deactivate and drift.gone_from_afas:
        report = FlowReport(flow.name, ctx.run_id)
        engine.deactivate_missing(ctx, flow, in_afas, report)
        drift.repaired += report.deactivated
