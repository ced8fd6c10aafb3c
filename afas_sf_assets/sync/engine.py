"""The sync engine: AFAS rows in, Salesforce upserts out, every record's fate in the ledger.

A run streams the flow's GetConnector page by page (from the high-water mark, plus every record that
failed, waited or was quarantined before), validates each row, maps it, skips it when its payload
hash matches the last one sent, and upserts the rest on the external id — so a crash, a rerun or a
full resync never duplicates anything. The mark moves only when a run got through all its rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.dates import AMSTERDAM, parse_afas_datetime
from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets.errors import AfasSfError
from afas_sf_assets.mapping.apply import FieldMappingError, apply_mapping
from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS, Mapping, load_mapping
from afas_sf_assets.salesforce.bulk_job import settle
from afas_sf_assets.salesforce.client import COLLECTION_SIZE, SalesforceClient
from afas_sf_assets.salesforce.errors import SalesforceLimitExceeded
from afas_sf_assets.sync.deferred import DeferredWrites, Written
from afas_sf_assets.sync.fit import Misfit, fit_payload, mapping_problems, truncated_fields
from afas_sf_assets.sync.flow import Flow, FlowContext, TargetRef, Work
from afas_sf_assets.sync.report import Failure, FlowReport, measured
from afas_sf_assets.sync.state import (
    IN_SALESFORCE,
    RETRIED,
    ActivityEntry,
    LedgerEntry,
    RecordStatus,
    State,
    comparison_key,
)

logger = logging.getLogger(__name__)
# A bulk job costs a handful of calls whatever its size (create, upload, close, polls, results).
BULK_JOB_CALLS = 8
# Added to the write pass of a record sent again in the same run, per version before it (sync/deferred.py):
# each version in a job after the one before.
REQUEUED_PASS = 1000
# The ledger, beside a flow's, of the bulk jobs a run has started and not yet recorded (their ids).
BULK_JOBS_LEDGER = ".bulk_jobs"


class MappingMismatch(AfasSfError):
    """The mapping names AFAS fields the GetConnector does not have."""


def record_key(row: dict[str, Any], key_fields: tuple[str, ...]) -> str | None:
    values = [row.get(field) for field in key_fields]
    if any(v in (None, "") for v in values):
        return None
    return "|".join(str(v) for v in values)


def key_values(key: str, key_fields: tuple[str, ...]) -> list[str]:
    """A record key back into its field values; the last field may itself hold a `|`."""
    return key.split("|", len(key_fields) - 1)


def where_keys(key_fields: tuple[str, ...], keys: list[str]) -> Where:
    """The rows with these record keys: one OR group per key."""
    return Where(
        tuple(
            tuple(Condition(f, Operator.EQ, v) for f, v in zip(key_fields, key_values(key, key_fields), strict=True))
            for key in keys
        )
    )


def digest(value: Any) -> str:
    """A payload's fingerprint, as the ledger keeps it: equal when every value is."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def payload_hash(work: Work, hash_also: tuple[str, ...] = ()) -> str:
    """What a record sends: its payload, and the AFAS fields in `hash_also` (what its children send)."""
    assert work.record is not None
    body = {
        "always": work.record.always,
        "create": work.record.create_only,
        "also": {field: work.row.get(field) for field in hash_also},
    }
    return digest(body)


def within_budget(salesforce: SalesforceClient, api_reserve: float, needed: int, report: FlowReport) -> bool:
    """Whether `needed` more Salesforce calls leave the reserve of the org's daily API calls untouched; when
    not, the report says the flow stopped, and why."""
    if api_reserve <= 0:
        return True
    usage = salesforce.api_usage
    if usage is None:
        salesforce.limits()
        usage = salesforce.api_usage
    if usage is None:
        return True
    reserve = math.ceil(usage.limit * api_reserve)
    if usage.remaining - needed < reserve:
        report.status = "stopped_budget"
        report.note = (
            f"{usage.remaining} of {usage.limit} daily API calls left; {reserve} are kept in "
            f"reserve, so the flow stopped before writing and resumes on the next run"
        )
        return False
    return True


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


class SyncEngine:
    # Rows per batch: large enough that a big load reaches the Bulk API 2.0 threshold (2,000 by default)
    # and costs a handful of calls per batch, small enough that memory stays flat (a few MiB per batch).
    def __init__(
        self,
        afas: AfasClient,
        salesforce: SalesforceClient,
        state: State,
        *,
        mappings_dir: Path | None = None,
        batch_size: int = 5000,
        api_reserve: float = 0.2,
        mark_overlap: timedelta = timedelta(seconds=60),
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.afas = afas
        self.salesforce = salesforce
        self.state = state
        self.mappings_dir = mappings_dir or DEFAULT_MAPPINGS
        self.batch_size = batch_size
        self.api_reserve = api_reserve
        self.mark_overlap = mark_overlap
        self.progress = progress or (lambda message: logger.info(message))

    def load_mapping(self, flow: Flow) -> Mapping:
        return load_mapping(self.mappings_dir / flow.mapping)

    # -- a run -----------------------------------------------------------------------------------

    def run(self, flow: Flow, *, run_id: str, full: bool = False, dry_run: bool = False) -> FlowReport:
        ctx = self.context(flow, run_id=run_id, dry_run=dry_run)
        with measured(FlowReport(flow.name, run_id, dry_run=dry_run, full=full), self.afas, self.salesforce) as report:
            return self._run(ctx, flow, report, full=full, dry_run=dry_run)

    def _run(self, ctx: FlowContext, flow: Flow, report: FlowReport, *, full: bool, dry_run: bool) -> FlowReport:
        try:
            reason = flow.skip_when(ctx) if flow.skip_when else None
            if reason:
                report.status, report.note = "skipped", reason
                return report
            self.preflight(ctx, flow)
            run_start = datetime.now(AMSTERDAM)
            mark = None if full else self.state.mark(flow.name)
            retry = (
                []
                if full
                else [e.key for e in self.state.iter_entries(flow.name, RETRIED) if not e.key.startswith("~")]
            )
            # The keys read are kept where a full run deactivates what it did not see; otherwise only those of
            # records to retry, so the run's memory does not grow with the table.
            watched = None if full and flow.deactivate else {key.lower() for key in retry}
            seen: set[str] = set()
            newest: list[datetime] = []
            stopped = False
            rows = self._rows(ctx, mark, retry, seen, watched, newest)
            jobs_ledger = f"{flow.name}{BULK_JOBS_LEDGER}"
            if not dry_run:
                self._settle_jobs_left(jobs_ledger)
            deferred = DeferredWrites(
                self.salesforce,
                lambda job_id: self.state.save(jobs_ledger, [LedgerEntry(job_id, job_id, None, RecordStatus.PARTIAL)]),
            )
            ctx.queued = deferred.queued
            try:
                for number, batch in enumerate(batched(rows, self.batch_size), 1):
                    done = self._process(ctx, flow, batch, report, full, deferred)
                    # Let go of this batch before the next is read, so two batches of rows never overlap.
                    del batch
                    if not done:
                        stopped = True
                        break
                    self.progress(
                        f"{flow.name}: batch {number} done — read {report.read}, created {report.created}, "
                        f"updated {report.updated}, unchanged {report.unchanged}, "
                        f"failed {report.failed + report.quarantined + report.waiting}"
                        + (f", {len(deferred.batches)} batch(es) queued for bulk" if deferred.batches else "")
                    )
                if not stopped and deferred.batches:
                    stopped = not self._finish_deferred(ctx, flow, deferred, report)
                    self.state.reset(jobs_ledger)
            finally:
                ctx.queued = None
                deferred.close()
            if full and flow.deactivate and not stopped:
                self.deactivate_missing(ctx, flow, seen, report)
            if not stopped and not dry_run and newest:
                moved = min(newest[0], run_start - self.mark_overlap)
                self.state.set_mark(flow.name, moved.isoformat())
            return report
        finally:
            self._take_notes(ctx, report)

    def _settle_jobs_left(self, jobs_ledger: str) -> None:
        """Bulk jobs a run that was killed left in Salesforce: waited for (or aborted, if never closed)
        before this run reads the org, which they may still be changing."""
        left = [entry.key for entry in self.state.iter_entries(jobs_ledger)]
        if left:
            self.progress(f"waiting for {len(left)} bulk job(s) an earlier run left in Salesforce")
            settle(self.salesforce, left)
            self.state.reset(jobs_ledger)

    def sync_keys(self, flow: Flow, keys: list[str], *, run_id: str, dry_run: bool = False) -> FlowReport:
        """Bring given records of a flow up to date now, by that flow's rules (an order needs its customer)."""
        ctx = self.context(flow, run_id=run_id, dry_run=dry_run)
        report = FlowReport(flow.name, run_id, dry_run=dry_run)
        for start in range(0, len(keys), 200):
            rows = list(self.source_rows(ctx, where_keys(ctx.mapping.source.key, keys[start : start + 200])))
            if rows:
                self._process(ctx, flow, rows, report, full=False)
        self._take_notes(ctx, report)
        return report

    def context(self, flow: Flow, *, run_id: str, dry_run: bool) -> FlowContext:
        return FlowContext(
            self.afas, self.salesforce, self.state, flow, self.load_mapping(flow), run_id, dry_run, engine=self
        )

    def source_rows(self, ctx: FlowContext, where: Where | None) -> Iterator[dict[str, Any]]:
        """The flow's AFAS rows: through its own extract (stock sums warehouses), else its GetConnector."""
        if ctx.flow.extract:
            return ctx.flow.extract(ctx, where)
        source = ctx.mapping.source
        return self.afas.iter_rows(source.connector, key=source.key, where=where)

    def _take_notes(self, ctx: FlowContext, report: FlowReport) -> None:
        """The rules' own tallies and findings join the flow's report; the findings (a shared e-mail, a
        refused adoption) also go into the activity log, so `afas-sf log` shows them per record."""
        for name, amount in ctx.counts.items():
            report.count(name, amount)
        for note in ctx.notes:
            report.add_failure(note)
        if ctx.notes and not ctx.dry_run:
            self.state.log(
                ActivityEntry(
                    ctx.run_id,
                    ctx.flow.name,
                    note.key,
                    "note",
                    note.outcome,
                    error=f"{note.code}: {note.field + ': ' if note.field else ''}{note.message}",
                )
                for note in ctx.notes
            )

    def preflight(self, ctx: FlowContext, flow: Flow) -> None:
        """Every AFAS field the mapping reads and every Salesforce field it writes exist, before data moves."""
        mapping = ctx.mapping
        info = self.afas.get_connector_info(mapping.source.connector)
        if flow.derive_row_model:
            ctx.row_model = flow.derive_row_model(info, mapping)
        available = {f.id for f in info.fields}
        unknown = [f for f in mapping.source_fields if f not in available and f not in flow.derived_fields]
        if unknown:
            raise MappingMismatch(
                f"{mapping.path}: GetConnector {mapping.source.connector} has no field(s) {', '.join(unknown)}"
            )
        used = set(flow.profiles_for(ctx)) if flow.profiles_for else set(mapping.profiles)
        objects = {mapping.target.object} | {p.object for n, p in mapping.profiles.items() if n in used}
        self.salesforce.describe_many(sorted(objects) + list(flow.writes_also))
        org = {sobject: self.salesforce.org_fields(sobject) for sobject in objects}
        mapping = ctx.mapping = mapping.for_org({o: set(fields) for o, fields in org.items() if fields is not None})
        requirements: dict[str, list[str]] = {mapping.target.object: list(mapping.fields)}
        for name, profile in mapping.profiles.items():
            if name in used:
                requirements.setdefault(profile.object, []).extend(profile.fields)
        if flow.extra_requirements:
            for sobject, fields in flow.extra_requirements(ctx).items():
                requirements.setdefault(sobject, []).extend(fields)
        self.salesforce.preflight(requirements, mapping_problems(mapping, used, org))

    def _rows(
        self,
        ctx: FlowContext,
        mark: str | None,
        retry: list[str],
        seen: set[str],
        watched: set[str] | None,
        newest: list[datetime],
    ) -> Iterator[dict[str, Any]]:
        """The rows changed since `mark`, then those of `retry` not read already; the keys read go into
        `seen`, all of them or those in `watched` (compared as AFAS's filters compare, without case)."""
        source = ctx.mapping.source

        def track(row: dict[str, Any]) -> dict[str, Any]:
            modified = row.get(source.modified) if source.modified else None
            try:
                moment = parse_afas_datetime(str(modified)) if modified else None
            except ValueError:
                moment = None  # the row model quarantines the row; the mark follows the valid ones
            if moment and (not newest or moment > newest[0]):
                newest[:] = [moment]
            key = record_key(row, source.key)
            if key and (watched is None or key.lower() in watched):
                seen.add(key)
            return row

        where = None
        if mark and source.modified:
            where = Where.all(Condition(source.modified, Operator.GE, datetime.fromisoformat(mark)))
        for row in self.source_rows(ctx, where):
            yield track(row)
        retry = [key for key in retry if key not in seen]
        for start in range(0, len(retry), 200):
            chunk = retry[start : start + 200]
            for row in self.source_rows(ctx, where_keys(source.key, chunk)):
                # AFAS filters ignore case, so a retried key may bring back a row this run already read.
                if record_key(row, source.key) not in seen:
                    yield track(row)
            gone = [key for key in chunk if key not in seen]
            if gone and not ctx.dry_run:
                # Waiting for a fix that can no longer come: the row left AFAS.
                self.state.save(ctx.mapping.flow, [LedgerEntry(key, None, None, RecordStatus.REMOVED) for key in gone])

    def _process(
        self,
        ctx: FlowContext,
        flow: Flow,
        rows: list[dict[str, Any]],
        report: FlowReport,
        full: bool,
        deferred: DeferredWrites | None = None,
    ) -> bool:
        """One batch; False when the run must stop here (API budget). With `deferred`, a batch large enough
        for Bulk API 2.0 (and every later one) goes to the run's jobs and is recorded when they are done."""
        mapping = ctx.mapping
        keys = [record_key(row, mapping.source.key) for row in rows]
        ledger = self.state.entries(flow.name, [k for k in keys if k])
        works: list[Work] = []
        updates: list[LedgerEntry] = []
        activity: list[ActivityEntry] = []

        def refuse(
            key: str,
            row: dict[str, Any],
            outcome: RecordStatus,
            code: str,
            field: str | None,
            message: str,
            sent: dict[str, Any] | None = None,
            action: str = "validate",
        ) -> None:
            updates.append(LedgerEntry.trouble(key, ledger.get(key), outcome, code, field, message))
            activity.append(
                ActivityEntry(
                    ctx.run_id,
                    flow.name,
                    key,
                    action,
                    outcome.value,
                    source=row,
                    sent=sent,
                    error=f"{code}: {field + ': ' if field else ''}{message}",
                )
            )
            report.add_failure(Failure(key, outcome.value, code, field, message))

        collisions = self._collisions(flow.name, keys)
        for row, key in zip(rows, keys, strict=True):
            report.read += 1
            if key is not None and key in collisions:
                refuse(
                    key,
                    row,
                    RecordStatus.QUARANTINED,
                    "KEY_COLLISION",
                    ", ".join(mapping.source.key),
                    f"{key!r} and {', '.join(repr(k) for k in collisions[key])} are one key to Salesforce (external "
                    "ids ignore case and surrounding blanks); neither is sent until AFAS tells them apart",
                )
                continue
            if key is None:
                digest = hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:12]
                missing = [f for f in mapping.source.key if row.get(f) in (None, "")]
                refuse(
                    f"~row:{digest}",
                    row,
                    RecordStatus.QUARANTINED,
                    "MISSING_KEY",
                    ", ".join(missing),
                    f"the AFAS row has no {', '.join(missing)}",
                )
                continue
            row_model = ctx.row_model or flow.row_model
            assert row_model is not None, "a flow without a row model derives one in the preflight"
            try:
                model = row_model.model_validate(row)
            except ValidationError as exc:
                problems = [
                    (".".join(str(p) for p in e["loc"]) or "row", f"{e['msg']} (got {e.get('input')!r})")
                    for e in exc.errors()
                ]
                refuse(
                    key,
                    row,
                    RecordStatus.QUARANTINED,
                    "INVALID_VALUE",
                    ", ".join(f for f, _ in problems),
                    "; ".join(f"{f}: {m}" for f, m in problems),
                )
                continue
            try:
                record = apply_mapping(mapping, model.model_dump(by_alias=True))
            except FieldMappingError as exc:
                refuse(
                    key,
                    row,
                    RecordStatus.FAILED,
                    "MAPPING",
                    exc.target_field,
                    f"from {exc.source}: {exc.reason}",
                    action="map",
                )
                continue
            works.append(Work(key, row, record, existing=ledger.get(key)))

        for rule in flow.rules:
            rule(ctx, works)
        added = [w for w in works if w.existing is None and w.key not in ledger]
        if added:
            # Records a rule added (a standard price for a group price) have their own ledger entries.
            extra = self.state.entries(flow.name, [w.key for w in added])
            for work in added:
                work.existing = extra.get(work.key)
        changed: list[Work] = []
        resumed: list[Work] = []
        # Children count too: the AFAS fields the profiles read (a contact person's name changes the debtor).
        hash_also = (*flow.hash_also, *mapping.profile_source_fields)
        for work in works:
            if work.skip_reason:
                # Not for Salesforce (a status the flow does not take): said in the log, so nobody wonders.
                report.count("skipped")
                activity.append(
                    ActivityEntry(
                        ctx.run_id, flow.name, work.key, "skip", "skipped", source=work.row, error=work.skip_reason
                    )
                )
                continue
            work.payload_hash = payload_hash(work, hash_also)
            previous = work.existing
            if not full and previous and previous.payload_hash == work.payload_hash:
                if previous.status is RecordStatus.SYNCED:
                    report.unchanged += 1
                    continue
                if previous.status is RecordStatus.PARTIAL and previous.target_id and flow.after_write:
                    # Written before, unchanged since: only what hangs off it is still due.
                    work.target_id = previous.target_id
                    resumed.append(work)
                    continue
            work.target_id = previous.target_id if previous and previous.status is not RecordStatus.REMOVED else None
            changed.append(work)
        if deferred is not None and deferred.active:
            changed = self._after_queued(changed, deferred, report)
        self._classify(ctx, changed)
        for rule in flow.matching:
            rule(ctx, changed)
        ready = []
        truncate = truncated_fields(mapping)
        for work in changed:
            if work.skip_reason:
                # Decided once Salesforce was asked (an order no longer Draft): handled, nothing to write.
                report.count("skipped")
                updates.append(LedgerEntry(work.key, work.target_id, work.payload_hash, RecordStatus.SYNCED))
                continue
            if work.waiting_for:
                refuse(
                    work.key,
                    work.row,
                    RecordStatus.WAITING,
                    "WAITING",
                    None,
                    work.waiting_for,
                    sent=work.payload(),
                    action="wait",
                )
                continue
            target = ctx.target_of(work)
            misfit = self._misfit(work, target.object, truncate.get(target.object, set()))
            if misfit:
                refuse(
                    work.key,
                    work.row,
                    RecordStatus.FAILED,
                    misfit.code,
                    misfit.field,
                    misfit.message,
                    sent=work.payload(),
                    action="check",
                )
            else:
                ready.append(work)

        if ctx.dry_run:
            report.created += sum(not w.is_update for w in ready)
            report.updated += sum(w.is_update for w in ready)
            report.count("resumed", len(resumed))
            return True
        groups = self._groups(ctx, ready)
        if deferred is not None and deferred.takes([len(works) for _, _, works in groups]):
            deferred.add(groups)
            if resumed:
                report.count("resumed", len(resumed))
            self._conclude(ctx, flow, resumed, report, updates, activity)
            return True
        if not self._within_budget(len(ready) + len(resumed), report):
            self.state.save(flow.name, updates)
            self.state.log(activity)
            return False
        written = self._write(ctx, flow, groups, report, updates, activity)
        if flow.after_write:
            report.count("resumed", len(resumed))
        self._conclude(ctx, flow, written + resumed, report, updates, activity)
        return True

    def _conclude(
        self,
        ctx: FlowContext,
        flow: Flow,
        written: list[Work],
        report: FlowReport,
        updates: list[LedgerEntry],
        activity: list[ActivityEntry],
    ) -> None:
        """A batch's ledger entries and activity; with after-write rules, once the children of the written
        records are written too."""
        if flow.after_write:
            self._with_children(ctx, flow, written, report, updates, activity)
        else:
            self.state.save(flow.name, updates)
            self.state.log(activity)

    def _with_children(
        self,
        ctx: FlowContext,
        flow: Flow,
        parents: list[Work],
        report: FlowReport,
        updates: list[LedgerEntry],
        activity: list[ActivityEntry],
    ) -> None:
        """A record is synced only when all of it is. Written parents are saved as partial first, so a
        crash or a failure before their children arrive leaves them due; each becomes synced once every
        child outcome the after-write rules report for it is a success."""
        keys = {w.key for w in parents}
        self.state.save(
            flow.name,
            [
                dataclasses.replace(e, status=RecordStatus.PARTIAL)
                if e.key in keys and e.status is RecordStatus.SYNCED
                else e
                for e in updates
            ],
        )
        self.state.log(activity)
        if not parents:
            return
        for rule in flow.after_write:
            try:
                rule(ctx, parents)
            except SalesforceLimitExceeded:
                raise
            except AfasSfError as exc:
                # A client error that outlived its retries (AFAS down during image downloads) leaves these
                # parents partial; the flow and the flows after it go on.
                for work in parents:
                    ctx.child_failed(
                        work.key,
                        Failure(
                            work.key,
                            "partial",
                            getattr(exc, "code", None) or type(exc).__name__,
                            rule.__name__,
                            str(exc),
                        ),
                    )
        final = []
        for work in parents:
            failure = ctx.child_failures.pop(work.key, None)
            if failure is None:
                final.append(LedgerEntry(work.key, work.target_id, work.payload_hash, RecordStatus.SYNCED))
                continue
            final.append(
                LedgerEntry.trouble(
                    work.key,
                    work.existing,
                    RecordStatus.PARTIAL,
                    failure.code,
                    failure.field,
                    failure.message,
                    target_id=work.target_id,
                    payload_hash=work.payload_hash,
                )
            )
            report.add_failure(failure)
        self.state.save(flow.name, final)
        self.state.log(ctx.child_activity)
        ctx.child_activity.clear()

    def _collisions(self, flow: str, keys: list[str | None]) -> dict[str, list[str]]:
        """Keys of this batch that another key (in the batch or the ledger) equals as Salesforce compares
        them, each with the keys it collides with."""
        present = [k for k in keys if k and not k.startswith("~")]
        alike: dict[str, set[str]] = {}
        for key in present:
            alike.setdefault(comparison_key(key), set()).add(key)
        for compared, known in self.state.keys_like(flow, present).items():
            alike.setdefault(compared, set()).update(known)
        return {
            key: sorted(alike[comparison_key(key)] - {key}) for key in present if len(alike[comparison_key(key)]) > 1
        }

    def _misfit(self, work: Work, sobject: str, truncate: set[str]) -> Misfit | None:
        """The first value of the record the org would refuse (text that may be cut is cut here)."""
        fields = self.salesforce.org_fields(sobject)
        if fields is None or work.record is None:
            return None
        return fit_payload(work.record.always, fields, truncate) or fit_payload(
            work.record.create_only, fields, truncate
        )

    def _after_queued(self, works: list[Work], deferred: DeferredWrites, report: FlowReport) -> list[Work]:
        """Records this run's jobs already hold (a standard price entry another batch added): the same payload
        is written once; another one goes again, as an update, in a job after theirs."""
        queued = deferred.queued([w.key for w in works])
        kept = []
        for work in works:
            payload_hash, versions = queued.get(work.key, (None, 0))
            if versions and payload_hash == work.payload_hash:
                report.unchanged += 1
                continue
            work.requeued = versions
            kept.append(work)
        return kept

    def _classify(self, ctx: FlowContext, works: list[Work]) -> None:
        """Create or update? The ledger knows most; Salesforce is asked about the rest, so a lost ledger
        never makes the engine overwrite create-only fields of records that already exist."""
        by_target: dict[TargetRef, dict[str, Work]] = {}
        for work in works:
            if work.target_id is None and not work.requeued:
                target = ctx.target_of(work)
                value = work.payload().get(target.external_id)
                if value not in (None, ""):
                    by_target.setdefault(target, {})[str(value).lower()] = work
        for target, values in by_target.items():
            for value, record_id in ctx.existing_ids(target.object, target.external_id, values).items():
                values[value].target_id = record_id

    def _within_budget(self, records: int, report: FlowReport) -> bool:
        if records == 0:
            return True
        needed = (
            BULK_JOB_CALLS
            if records >= self.salesforce.settings.bulk_threshold
            else math.ceil(records / COLLECTION_SIZE)
        )
        return within_budget(self.salesforce, self.api_reserve, needed, report)

    def _groups(self, ctx: FlowContext, ready: list[Work]) -> list[tuple[int, TargetRef, list[Work]]]:
        """The batch's records by write pass and target, in the order they must be written."""

        # A record requeued in this run goes in a pass after every other, so after its first version.
        def pass_of(work: Work) -> int:
            return work.write_pass + REQUEUED_PASS * work.requeued

        passes = sorted({(pass_of(w), ctx.target_of(w)) for w in ready}, key=lambda pair: (pair[0], pair[1].object))
        return [
            (p, target, [w for w in ready if pass_of(w) == p and ctx.target_of(w) == target]) for p, target in passes
        ]

    def _write(
        self,
        ctx: FlowContext,
        flow: Flow,
        groups: list[tuple[int, TargetRef, list[Work]]],
        report: FlowReport,
        updates: list[LedgerEntry],
        activity: list[ActivityEntry],
    ) -> list[Work]:
        payloads = [[w.payload() for w in works] for _, _, works in groups]
        # One request list, in pass order: the client packs the passes' collections into as few calls as it may.
        answers = self.salesforce.upsert_all(
            [(target.object, target.external_id, sent) for (_, target, _), sent in zip(groups, payloads, strict=True)]
        )
        return self._record(
            ctx,
            flow,
            [
                Written(works, sent, outcomes)
                for (_, _, works), sent, outcomes in zip(groups, payloads, answers, strict=True)
            ],
            report,
            updates,
            activity,
        )

    def _finish_deferred(self, ctx: FlowContext, flow: Flow, deferred: DeferredWrites, report: FlowReport) -> bool:
        """Run the run's bulk jobs, then record each queued batch and write its children; False when the
        API budget cannot take the jobs (nothing was sent: the next run reads those rows again)."""
        if not within_budget(self.salesforce, self.api_reserve, BULK_JOB_CALLS * deferred.job_count(), report):
            return False
        self.progress(f"{flow.name}: {len(deferred.batches)} batch(es) in {deferred.job_count()} bulk job(s)")
        deferred.run()
        for batch in deferred.written():
            updates: list[LedgerEntry] = []
            activity: list[ActivityEntry] = []
            written = self._record(ctx, flow, batch, report, updates, activity)
            self._conclude(ctx, flow, written, report, updates, activity)
            del batch, written, updates, activity  # before the next batch is loaded
        return True

    def _record(
        self,
        ctx: FlowContext,
        flow: Flow,
        batch: list[Written],
        report: FlowReport,
        updates: list[LedgerEntry],
        activity: list[ActivityEntry],
    ) -> list[Work]:
        """Each record's outcome into the report, the ledger entries and the activity; the written works."""
        written: list[Work] = []
        for work, payload, outcome in (
            triple for group in batch for triple in zip(group.works, group.payloads, group.outcomes, strict=True)
        ):
            error = None if outcome.success else outcome.errors[0]
            activity.append(
                ActivityEntry(
                    ctx.run_id,
                    flow.name,
                    work.key,
                    "update" if work.is_update else "create",
                    "failed" if error else "created" if outcome.created else "updated",
                    None if error else outcome.id,
                    source=work.row,
                    sent=payload,
                    error=f"{error.code}: {error.message}" if error else None,
                )
            )
            if error is None:
                if outcome.created:
                    report.created += 1
                else:
                    report.updated += 1
                work.target_id = outcome.id
                updates.append(LedgerEntry(work.key, outcome.id, work.payload_hash, RecordStatus.SYNCED))
                written.append(work)
                continue
            field = ", ".join(error.fields) or None
            updates.append(
                LedgerEntry.trouble(work.key, work.existing, RecordStatus.FAILED, error.code, field, error.message)
            )
            report.add_failure(Failure(work.key, "failed", error.code, field, error.message))
        return written

    def deactivate_missing(self, ctx: FlowContext, flow: Flow, seen: set[str], report: FlowReport) -> None:
        """A full run has seen every AFAS row: synced records whose row is gone get deactivated, never deleted."""
        assert flow.deactivate is not None
        target = ctx.mapping.target
        gone = [e for e in self.state.iter_entries(flow.name, IN_SALESFORCE) if e.key not in seen]
        if not gone or ctx.dry_run:
            report.deactivated += len(gone)
            return
        outcomes = self.salesforce.upsert(
            target.object, target.external_id, [{target.external_id: e.key, **flow.deactivate} for e in gone]
        )
        updates, activity = [], []
        for entry, outcome in zip(gone, outcomes, strict=True):
            if outcome.success:
                report.deactivated += 1
                updates.append(LedgerEntry(entry.key, outcome.id, None, RecordStatus.REMOVED))
                activity.append(
                    ActivityEntry(
                        ctx.run_id,
                        flow.name,
                        entry.key,
                        "deactivate",
                        "updated",
                        outcome.id,
                        sent=dict(flow.deactivate),
                    )
                )
            else:
                error = outcome.errors[0]
                report.add_failure(
                    Failure(entry.key, "failed", error.code, ", ".join(error.fields) or None, error.message)
                )
        self.state.save(flow.name, updates)
        self.state.log(activity)
