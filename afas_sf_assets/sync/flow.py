"""What a flow is: a mapping file, a row model, and a few rules; the engine does the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.mapping.apply import MappedRecord
from afas_sf_assets.mapping.model import Mapping as MappingFile
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.state import LedgerEntry, State


@dataclass
class Work:
    """One AFAS row on its way to Salesforce."""

    key: str
    row: dict[str, Any]
    record: MappedRecord | None = None
    payload_hash: str | None = None
    existing: LedgerEntry | None = None
    target_id: str | None = None  # known before writing: an update
    write_pass: int = 0  # lower passes are written first (parents before children)
    waiting_for: str | None = None  # set by a rule: why it cannot go yet

    @property
    def is_update(self) -> bool:
        return self.target_id is not None

    def payload(self) -> dict[str, Any]:
        assert self.record is not None
        return self.record.for_update() if self.is_update else self.record.for_create()


@dataclass
class FlowContext:
    afas: AfasClient
    salesforce: SalesforceClient
    state: State
    mapping: MappingFile
    run_id: str
    dry_run: bool
    cache: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, amount: int = 1) -> None:
        """A rule's own tally (images sent, links made), shown with the flow's counts."""
        self.counts[name] = self.counts.get(name, 0) + amount

    def org_has(self, sobject: str) -> bool:
        if "org_objects" not in self.cache:
            described = self.salesforce.sf.describe()
            self.cache["org_objects"] = {o["name"].lower() for o in described["sobjects"]}
        return sobject.lower() in self.cache["org_objects"]


Rule = Callable[[FlowContext, list[Work]], None]


@dataclass(frozen=True)
class Flow:
    name: str
    mapping: str
    row_model: type[BaseModel]
    depends_on: tuple[str, ...] = ()
    # Batch rules run after mapping and before writing: they add relationships, order passes, or
    # hold records back (`waiting_for`). After-write rules handle what hangs off written records.
    rules: tuple[Rule, ...] = ()
    after_write: tuple[Rule, ...] = ()
    # Why the flow has nothing to do in this org (None: it applies).
    skip_when: Callable[[FlowContext], str | None] | None = None
    # Objects and fields beyond the mapping's that the rules write (checked before any data moves).
    extra_requirements: Callable[[FlowContext], Mapping[str, list[str]]] | None = None
    # Fields sent to records whose AFAS row is gone (a full run finds them); None: leave them be.
    deactivate: Mapping[str, Any] | None = None
    # GetConnectors read besides the mapping's source (for lineage).
    reads_also: tuple[str, ...] = ()
    # AFAS fields that are not sent but whose change must count as a change (e.g. an image's date).
    hash_also: tuple[str, ...] = ()
    description: str = ""
