"""What a flow is: a mapping file, a row model, and a few rules; the engine does the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.filters import Where
from afas_sf_assets.afas.models import GetConnectorInfo
from afas_sf_assets.mapping.apply import MappedRecord
from afas_sf_assets.mapping.model import Mapping as MappingFile
from afas_sf_assets.salesforce.client import SalesforceClient, UpsertOutcome
from afas_sf_assets.sync.report import Failure
from afas_sf_assets.sync.state import ActivityEntry, LedgerEntry, State


@dataclass(frozen=True)
class TargetRef:
    object: str
    external_id: str


@dataclass
class Work:
    """One AFAS row on its way to Salesforce."""

    key: str
    row: dict[str, Any]
    record: MappedRecord | None = None
    # Where it goes when not the mapping's target (a person debtor as a Contact, a standard price).
    target: TargetRef | None = None
    payload_hash: str | None = None
    existing: LedgerEntry | None = None
    target_id: str | None = None  # known before writing: an update
    write_pass: int = 0  # lower passes are written first (parents before children)
    waiting_for: str | None = None  # set by a rule: why it cannot go yet
    # Versions of this record queued earlier in this run's bulk jobs with other payloads: this one goes
    # again, as an update, in a job after theirs.
    requeued: int = 0
    skip_reason: str | None = None  # set by a rule: why it is not for Salesforce at all (counted as skipped)

    @property
    def is_update(self) -> bool:
        return self.target_id is not None

    def payload(self) -> dict[str, Any]:
        assert self.record is not None
        return self.record.for_update() if self.is_update or self.requeued else self.record.for_create()


@dataclass
class FlowContext:
    """What a flow's rules work with during one run; made by `SyncEngine.context`."""

    afas: AfasClient
    salesforce: SalesforceClient
    state: State
    flow: Flow
    mapping: MappingFile
    run_id: str
    dry_run: bool
    # The engine running this flow, for rules that need another flow's records now (an order's customer).
    engine: Any = None
    cache: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[Failure] = field(default_factory=list)
    # What after-write rules report of the children they wrote: the first failure per parent key, and
    # one activity entry per child.
    child_failures: dict[str, Failure] = field(default_factory=dict)
    child_activity: list[ActivityEntry] = field(default_factory=list)
    # The flow's row model for this run, when derived from AFAS's metainfo.
    row_model: type[BaseModel] | None = None
    # Keys of this flow the run's bulk jobs will write before any later pass (sync/deferred.py).
    queued: Callable[[Iterable[str]], Mapping[str, tuple[str | None, int]]] | None = None

    def warn(self, failure: Failure) -> None:
        """A rule's finding about one record (a shared e-mail, a contact Salesforce refused)."""
        self.notes.append(failure)

    def child_failed(self, parent_key: str, failure: Failure) -> None:
        """A child of `parent_key` did not arrive: the parent stays partial and its children are retried."""
        self.child_failures.setdefault(parent_key, failure)

    def children_written(
        self,
        kind: str,
        sobject: str,
        parents: Sequence[str],
        records: Sequence[Mapping[str, Any]],
        outcomes: Sequence[UpsertOutcome],
    ) -> None:
        """Every child write's outcome, each under its parent's key: counted, logged, and a failure keeps
        the parent partial (retried on the next run) with the child's object, field, code and message."""
        self.count(kind, sum(o.success for o in outcomes))
        for parent, record, outcome in zip(parents, records, outcomes, strict=True):
            error = None if outcome.success else outcome.errors[0]
            self.child_activity.append(
                ActivityEntry(
                    self.run_id,
                    self.flow.name,
                    parent,
                    kind,
                    "failed" if error else "created" if outcome.created else "updated",
                    outcome.id,
                    sent=dict(record),
                    error=f"{error.code}: {error.message}" if error else None,
                )
            )
            if error:
                field_name = f"{sobject}." + (", ".join(error.fields) or "?")
                self.child_failed(
                    parent, Failure(parent, "partial", error.code, field_name, f"{kind}: {error.message}")
                )

    def count(self, name: str, amount: int = 1) -> None:
        """A rule's own tally (images sent, links made), shown with the flow's counts."""
        self.counts[name] = self.counts.get(name, 0) + amount

    def existing_ids(self, sobject: str, field: str, values: Iterable[str]) -> dict[str, str]:
        """Salesforce ids for external id values (lower-cased keys). Many values (a first load) read the
        object's external ids once per run, 2,000 a call; a few are looked up ~90 at a time."""
        wanted = {str(v).lower() for v in values if v not in (None, "")}
        cache_key = ("external_ids", sobject, field)
        if cache_key not in self.cache and len(wanted) > SCAN_ABOVE:
            self.cache[cache_key] = {
                str(row[field]).lower(): row["Id"]
                for row in self.salesforce.iter_query(f"SELECT Id, {field} FROM {sobject} WHERE {field} != null")
            }
        if cache_key in self.cache:
            known: dict[str, str] = self.cache[cache_key]
            return {value: known[value] for value in wanted if value in known}
        found = self.salesforce.ids_by_external_id(sobject, field, list(wanted))
        return {value.lower(): record_id for value, record_id in found.items()}

    def target_of(self, work: Work) -> TargetRef:
        return work.target or TargetRef(self.mapping.target.object, self.mapping.target.external_id)

    def org_has(self, sobject: str) -> bool:
        return self.salesforce.has_object(sobject)


Rule = Callable[[FlowContext, list[Work]], None]
# Unknown keys beyond which an object's external ids are read once instead of looked up.
SCAN_ABOVE = 1000


@dataclass(frozen=True)
class Flow:
    name: str
    mapping: str
    # What a valid AFAS row is; None: derived from the GetConnector's metainfo by `derive_row_model` before
    # the run reads a row (a flow declared by its mapping file alone).
    row_model: type[BaseModel] | None
    depends_on: tuple[str, ...] = ()
    # Batch rules run after mapping: they shape records (relationships, passes, another target) or hold
    # them back (`waiting_for`). Matching rules run once it is known which records exist in Salesforce
    # (`target_id`), for the changed records only. After-write rules handle what hangs off written records.
    rules: tuple[Rule, ...] = ()
    matching: tuple[Rule, ...] = ()
    after_write: tuple[Rule, ...] = ()
    # Why the flow has nothing to do in this org (None: it applies).
    skip_when: Callable[[FlowContext], str | None] | None = None
    # Objects and fields beyond the mapping's that the rules write (checked before any data moves).
    extra_requirements: Callable[[FlowContext], Mapping[str, list[str]]] | None = None
    # The objects those may name, so the preflight learns them with the mapping's in one call (an object
    # the org lacks costs nothing there).
    writes_also: tuple[str, ...] = ()
    # Fields sent to records whose AFAS row is gone (a full run finds them); None: leave them be.
    deactivate: Mapping[str, Any] | None = None
    # The mapping profiles this org takes (checked before data moves); None: all of them.
    profiles_for: Callable[[FlowContext], Iterable[str]] | None = None
    # Replaces reading the mapping's GetConnector row by row (e.g. stock summed over warehouses).
    extract: Callable[[FlowContext, Where | None], Iterator[dict[str, Any]]] | None = None
    # Fields the extract adds that the GetConnector itself does not have.
    derived_fields: tuple[str, ...] = ()
    # GetConnectors read besides the mapping's source (for lineage).
    reads_also: tuple[str, ...] = ()
    # AFAS fields that are not sent but whose change must count as a change (e.g. an image's date).
    hash_also: tuple[str, ...] = ()
    derive_row_model: Callable[[GetConnectorInfo, MappingFile], type[BaseModel]] | None = None
    description: str = ""
