"""Two worlds compared record by record: what Salesforce holds after a run under faults or kills, against
a fault-free run on the same AFAS data. Used by the fault matrix in the tests and by
`benchmarks/fault_suite.py` at medium size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from afas_sf_assets.defs.declared import FLOWS
from afas_sf_assets.errors import AfasSfError
from afas_sf_assets.sandbox.salesforce.ids import to_18
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets_tests.sandbox_process import Sandbox

# Every object the flows write, by the external id a record is known by.
KEYED_OBJECTS = {
    "Account": "AFAS_Debtor_Id__c",
    "Contact": "AFAS_Contact_Key__c",
    "Product2": "AFAS_Item_Code__c",
    "Pricebook2": "AFAS_Price_Group__c",
    "PricebookEntry": "AFAS_Price_Key__c",
    "Order": "AFAS_Order_Key__c",
    "OrderItem": "AFAS_Line_Key__c",
    "ContentVersion": "AFAS_Image_Key__c",
    "AFAS_Product_Relation__c": "AFAS_Relation_Key__c",
    "AFAS_Shipment__c": "AFAS_Delivery_Note__c",
    "AFAS_Shipment_Line__c": "AFAS_Line_Key__c",
}
# Fields that differ between two correct worlds: ids, clocks and numbers Salesforce hands out.
VOLATILE = {
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "OrderNumber",
    "OrderItemNumber",
    "ActivatedDate",
    "AFAS_Stock_Updated__c",
    "IsDeleted",
    "VersionNumber",
}

Snapshot = dict[str, dict[str, list[dict[str, Any]]]]

AFAS_500 = {"error_rate_500": 0.1}
AFAS_503 = {"error_rate_503": 0.1, "retry_after": 0.01}
AFAS_SLOW = {"latency_ms": 20}
SF_5XX = {"error_rate_5xx": 0.1}
SF_LOCKS = {"lock_rate": 0.1}
# (AFAS faults, Salesforce faults, Salesforce session lifetime in seconds)
MATRIX: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    "afas 500": (AFAS_500, {}, 7200),
    "afas 503": (AFAS_503, {}, 7200),
    "afas latency": (AFAS_SLOW, {}, 7200),
    "salesforce 5xx": ({}, SF_5XX, 7200),
    "salesforce locked rows": ({}, SF_LOCKS, 7200),
    "expiring sessions": ({}, {}, 0.5),
    "all together": ({**AFAS_500, **AFAS_503, **AFAS_SLOW}, {**SF_5XX, **SF_LOCKS}, 0.5),
}


def _salesforce_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 18 and value[3] == "Z" and to_18(value) == value


def snapshot(sandbox: Sandbox) -> Snapshot:
    """Per object, per external id (as Salesforce compares it), the records holding it, without what
    is expected to differ. A reference is kept as whether it is set, not as the id it holds."""
    out: Snapshot = {}
    for sobject, key in KEYED_OBJECTS.items():
        by_key: dict[str, list[dict[str, Any]]] = {}
        for record in sandbox.sf_records(sobject):
            value = record.get(key)
            if value in (None, ""):
                continue
            shown = {
                k: ("<id>" if _salesforce_id(v) else v)
                for k, v in record.items()
                if k not in VOLATILE and not k.startswith("~")
            }
            by_key.setdefault(str(value).lower(), []).append(shown)
        out[sobject] = by_key
    return out


@dataclass
class Comparison:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.differing or self.extra)

    def line(self) -> str:
        return (
            f"lost={len(self.lost)} duplicated={len(self.duplicated)} differing={len(self.differing)} "
            f"extra={len(self.extra)}"
        )


def compare(expected: Snapshot, actual: Snapshot) -> Comparison:
    result = Comparison()
    for sobject, records in expected.items():
        found = actual.get(sobject, {})
        for key, wanted in records.items():
            label = f"{sobject}:{key}"
            got = found.get(key, [])
            if not got:
                result.lost.append(label)
            elif len(got) > len(wanted):
                result.duplicated.append(label)
            elif got[0] != wanted[0]:
                differences = sorted(k for k in set(got[0]) | set(wanted[0]) if got[0].get(k) != wanted[0].get(k))
                result.differing.append(f"{label} ({', '.join(differences)})")
        result.extra += [f"{sobject}:{key}" for key in found if key not in records]
    return result


def run_round(engine: SyncEngine, run_id: str, on_error: Callable[[str, Exception], None] | None = None) -> None:
    """Every flow once, in dependency order, as a scheduled sync would; a flow that fails under a fault
    does not stop the ones after it (the next round retries it)."""
    for flow in FLOWS:
        try:
            engine.run(flow, run_id=run_id)
        except AfasSfError as exc:
            if on_error:
                on_error(flow.name, exc)
