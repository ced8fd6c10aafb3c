"""Flows declared by a mapping file alone, Salesforce → AFAS: records a SOQL condition selects, into any
AFAS UpdateConnector (inserted, or updated once AFAS's key is known), with that key written back onto the
Salesforce record.

Sending never happens twice, as in the orders flow: AFAS is asked first (`target.find`: a GetConnector
field that equals a field of the Salesforce record), the ledger keeps AFAS's key as soon as AFAS returns
it, and the key is written back. A crash between AFAS's insert and the ledger ends, on the next run, in
AFAS's answer to that question; one between the ledger and the write-back, in the write-back only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from afas_sf_assets.afas.client import AfasClient, element
from afas_sf_assets.afas.errors import AfasError
from afas_sf_assets.afas.filters import Where
from afas_sf_assets.mapping.apply import FieldMappingError, apply_mapping
from afas_sf_assets.mapping.model import MappingFileError, ToAfasMapping, load_to_afas_mapping
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.records import dotted
from afas_sf_assets.sync.engine import batched, digest, within_budget
from afas_sf_assets.sync.report import Failure, FlowReport, measured
from afas_sf_assets.sync.state import ActivityEntry, LedgerEntry, RecordStatus, State, comparison_key

BATCH = 200


def afas_body(values: dict[str, Any]) -> dict[str, Any]:
    """An UpdateConnector element from fields named by their place in it (`KnOrganisation.Nm`); an empty
    value is left out, so AFAS keeps what it has."""
    tree: dict[str, Any] = {"fields": {}, "objects": {}}
    for path, value in values.items():
        if value is None:
            continue
        *objects, field = path.split(".")
        node = tree
        for name in objects:
            node = node["objects"].setdefault(name, {"fields": {}, "objects": {}})
        node["fields"][field] = value

    def build(node: dict[str, Any]) -> dict[str, Any]:
        return element(node["fields"], objects={name: build(child) for name, child in node["objects"].items()} or None)

    return build(tree)


def soql_datetime(value: Any) -> str:
    """A dateTime as the REST API returns it (`2026-11-29T16:34:00.000+0000`) as SOQL takes it in a WHERE
    clause (`2026-11-29T16:34:00Z`: UTC, whole seconds; `>=` re-reads that second, the ledger's hashes
    send nothing twice)."""
    return datetime.fromisoformat(str(value)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ToAfasFlow:
    def __init__(
        self,
        mapping: ToAfasMapping,
        afas: AfasClient,
        salesforce: SalesforceClient,
        state: State,
        *,
        api_reserve: float = 0.0,
    ) -> None:
        self.mapping, self.afas, self.salesforce, self.state = mapping, afas, salesforce, state
        self.name = mapping.flow
        self.api_reserve = api_reserve

    def run(self, *, run_id: str, full: bool = False, dry_run: bool = False) -> FlowReport:
        with measured(FlowReport(self.name, run_id, dry_run=dry_run, full=full), self.afas, self.salesforce) as report:
            kept = None if full else self.state.mark(self.name)
            mark = soql_datetime(kept) if kept else None
            # What failed before is read again whatever its date: the mark moves past it, the ledger does not.
            retry = {e.key for e in self.state.iter_entries(self.name, [RecordStatus.FAILED])}
            newest = mark
            for batch in batched(self._changed(mark), BATCH):
                # A batch costs at most a write-back call and, with failures to read again, a query.
                if not within_budget(self.salesforce, self.api_reserve, 2, report):
                    break
                self._batch(batch, report, run_id, dry_run, full)
                retry -= {r["Id"] for r in batch}
                newest = max(filter(None, [newest, *(soql_datetime(r[self.mapping.source.modified]) for r in batch)]))
            else:
                for batch in batched(self._by_id(sorted(retry)), BATCH):
                    if not within_budget(self.salesforce, self.api_reserve, 2, report):
                        break
                    self._batch(batch, report, run_id, dry_run, full)
            if newest and not dry_run:
                self.state.set_mark(self.name, newest)
            return report

    # -- reading Salesforce ---------------------------------------------------------------------------

    def _select(self) -> str:
        return f"SELECT {', '.join(self.mapping.source_fields)} FROM {self.mapping.source.object}"

    def _condition(self) -> str:
        return f"({self.mapping.source.where})" if self.mapping.source.where else ""

    def _changed(self, mark: str | None) -> Iterator[dict[str, Any]]:
        source = self.mapping.source
        conditions = [c for c in (self._condition(), f"{source.modified} >= {mark}" if mark else "") if c]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return self.salesforce.iter_query(f"{self._select()}{where} ORDER BY {source.modified}, Id")

    def _by_id(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        condition = f"{self._condition()} AND " if self._condition() else ""
        return self.salesforce.query_in(f"{self._select()} WHERE {condition}Id IN {{values}} ORDER BY Id", ids)

    # -- one batch ----------------------------------------------------------------------------------

    def _in_afas(self, values: list[str]) -> dict[str, list[str]]:
        """AFAS's keys by the value `find` compares (one GetConnector read for the batch)."""
        find = self.mapping.target.find
        found: dict[str, list[str]] = {}
        if values:
            for row in self.afas.iter_rows(find.connector, key=(find.key,), where=Where.any_of(find.field, values)):
                found.setdefault(comparison_key(str(row.get(find.field))), []).append(str(row[find.key]))
        return found

    def _batch(self, records: list[dict[str, Any]], report: FlowReport, run_id: str, dry_run: bool, full: bool) -> None:
        mapping, target = self.mapping, self.mapping.target
        write_back_field = mapping.source.write_back
        report.read += len(records)
        rows = [dotted(r) for r in records]
        ledger = self.state.entries(self.name, [row["Id"] for row in rows])
        # AFAS's key: on the record already, or in the ledger (sent, not yet written back).
        known = {
            row["Id"]: str(row.get(write_back_field) or getattr(ledger.get(row["Id"]), "target_id", None) or "")
            for row in rows
        }
        found = self._in_afas(
            sorted({str(row[target.find.source]) for row in rows if not known[row["Id"]] and row[target.find.source]})
        )
        entries: list[LedgerEntry] = []
        activity: list[ActivityEntry] = []
        write_backs: list[dict[str, Any]] = []

        def fail(row: dict[str, Any], code: str, field: str | None, message: str, key: str | None = None) -> None:
            report.add_failure(Failure(row["Id"], "failed", code, field, message))
            entries.append(
                LedgerEntry.trouble(
                    row["Id"], ledger.get(row["Id"]), RecordStatus.FAILED, code, field, message, target_id=key
                )
            )
            activity.append(
                ActivityEntry(
                    run_id, self.name, row["Id"], "send", "failed", key, source=row, error=f"{code}: {message}"
                )
            )

        for row in rows:
            record_id = row["Id"]
            try:
                mapped = apply_mapping(mapping, row)
            except FieldMappingError as exc:
                fail(row, "MAPPING", exc.target_field, f"{exc.source}: {exc.reason}")
                continue
            fingerprint = digest(mapped.for_create())
            key = known[record_id]
            if not key and row[target.find.source]:
                matches = found.get(comparison_key(str(row[target.find.source])), [])
                if len(matches) > 1:
                    fail(
                        row,
                        "AMBIGUOUS_IN_AFAS",
                        target.find.source,
                        f"{target.find.connector} holds {', '.join(matches)} with this {target.find.field}; "
                        f"set {write_back_field} on the record to the one meant",
                    )
                    continue
                key = matches[0] if matches else ""
                if key:
                    report.count("found_in_afas")
            previous = ledger.get(record_id)
            sent_already = (
                not full and previous is not None and (previous.payload_hash, previous.target_id) == (fingerprint, key)
            )
            if key and (sent_already or not target.update):
                report.unchanged += 1
            elif dry_run:
                report.count("planned_updates" if key else "planned_inserts")
                activity.append(ActivityEntry(run_id, self.name, record_id, "send", "planned", key, source=row))
                continue
            else:
                action = "update" if key else "create"
                body = afas_body({**mapped.for_update(), target.key: key} if key else mapped.for_create())
                write = self.afas.update if key else self.afas.insert
                try:
                    result = write(target.connector, body)
                except AfasError as exc:
                    fail(row, "AFAS_REFUSED", None, exc.external_message or str(exc), key or None)
                    continue
                key = key or str(result.get(target.key) or mapped.for_create().get(target.key) or "")
                if not key:
                    fail(row, "NO_AFAS_KEY", target.key, f"AFAS answered without {target.key}: {result}")
                    continue
                # Kept before anything else can fail: the next run then only writes back.
                self.state.save(self.name, [LedgerEntry(record_id, key, fingerprint, RecordStatus.SYNCED)])
                report.created += action == "create"
                report.updated += action == "update"
                activity.append(
                    ActivityEntry(run_id, self.name, record_id, action, f"{action}d", key, source=row, sent=body)
                )
            if dry_run:
                continue
            entries.append(LedgerEntry(record_id, key, fingerprint, RecordStatus.SYNCED))
            if str(row.get(write_back_field) or "") != key:
                write_backs.append({"Id": record_id, write_back_field: key})
        if not dry_run:
            self.state.save(self.name, entries)
            self._write_back(write_backs, report, {e.key: e for e in entries})
        self.state.log(activity)

    def _write_back(self, records: list[dict[str, Any]], report: FlowReport, sent: dict[str, LedgerEntry]) -> None:
        """AFAS's keys onto the Salesforce records; one that fails stays failed in the ledger, with its key, so
        the next run writes it back without sending it to AFAS again."""
        if not records:
            return
        field = self.mapping.source.write_back
        failed: list[LedgerEntry] = []
        for record, outcome in zip(
            records, self.salesforce.update_by_id(self.mapping.source.object, records), strict=True
        ):
            if outcome.success:
                report.count("written_back")
                continue
            message = outcome.errors[0].message if outcome.errors else "refused"
            report.add_failure(Failure(record["Id"], "failed", outcome.error_code or "?", field, message))
            entry = sent[record["Id"]]
            failed.append(
                LedgerEntry.trouble(
                    entry.key,
                    entry,
                    RecordStatus.FAILED,
                    outcome.error_code,
                    field,
                    message,
                    payload_hash=entry.payload_hash,
                )
            )
        self.state.save(self.name, failed)


def to_afas_flows(paths: Iterable[Path], taken: Iterable[str]) -> tuple[ToAfasMapping, ...]:
    """The Salesforce → AFAS flows these mapping files declare; `taken` names every other flow (what `after`
    may name, and names a new flow may not take)."""
    names = list(taken)
    flows: list[ToAfasMapping] = []
    for path in paths:
        mapping = load_to_afas_mapping(path)
        if mapping.flow in names:
            raise MappingFileError(f"{path}: flow {mapping.flow!r} is already defined; give it another name")
        unknown = [name for name in mapping.after if name not in names]
        if unknown:
            raise MappingFileError(f"{path}: there is no flow {unknown[0]!r}; the flows are: {', '.join(names)}")
        if "." in mapping.source.write_back:
            raise MappingFileError(f"{path}: source.write_back names a field of {mapping.source.object} itself")
        names.append(mapping.flow)
        flows.append(mapping)
    return tuple(flows)
