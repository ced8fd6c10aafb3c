"""What the client hands back and forth about one record, shared by its REST and Bulk API paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afas_sf_assets.salesforce.errors import SfErrorDetail


@dataclass(frozen=True)
class UpsertOutcome:
    """What became of one input record."""

    external_id: str
    id: str | None = None
    created: bool | None = None
    errors: tuple[SfErrorDetail, ...] = ()

    @property
    def success(self) -> bool:
        return not self.errors

    @property
    def error_code(self) -> str | None:
        return self.errors[0].code if self.errors else None


def dotted(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Relationships as dotted field names, as SOQL and Bulk CSV columns name them: a lookup sent
    (`{"Account": {"AFAS_Debtor_Id__c": "1"}}` → `Account.AFAS_Debtor_Id__c`) or a record read
    (`Account.Owner.Name`); the `attributes` Salesforce adds are left out."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            flat.update(dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
