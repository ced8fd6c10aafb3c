"""Applying a mapping: one AFAS row → the record to send, split by write policy."""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from typing import Any

from afas_sf_assets.mapping.model import Mapping, ToAfasMapping, WritePolicy
from afas_sf_assets.mapping.transforms import TRANSFORMS, TransformError


class FieldMappingError(ValueError):
    """One target field could not be computed; names the field, the AFAS source and the reason."""

    def __init__(self, target_field: str, source: str, reason: str) -> None:
        self.target_field = target_field
        self.source = source
        self.reason = reason
        super().__init__(f"{target_field} (from {source}): {reason}")


@dataclass
class MappedRecord:
    """Fields sent on every change, and fields sent only when the record is created."""

    always: dict[str, Any] = field(default_factory=dict)
    create_only: dict[str, Any] = field(default_factory=dict)

    def for_create(self) -> dict[str, Any]:
        return {**self.create_only, **self.always}

    def for_update(self) -> dict[str, Any]:
        return dict(self.always)


def apply_mapping(
    mapping: Mapping | ToAfasMapping, row: MappingType[str, Any], profile: str | None = None
) -> MappedRecord:
    """The record for `row` by the mapping's fields, or by one of its profiles (AFAS → Salesforce only)."""
    fields = mapping.profiles[profile].fields if isinstance(mapping, Mapping) and profile else mapping.fields
    record = MappedRecord()
    for target, spec in fields.items():
        sources = spec.source_fields
        source_label = ", ".join(sources) or "constant"
        if spec.value is not None and not sources:
            value: Any = spec.value
        elif len(sources) == 1:
            value = row.get(sources[0])
        else:
            value = [row.get(s) for s in sources]
        try:
            for step in spec.transform:
                value = TRANSFORMS[step.name](value, row, step.args)
        except TransformError as exc:
            raise FieldMappingError(target, source_label, str(exc)) from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            # A value no transform foresaw (a VAT rate of -100 %) fails this record, never the flow.
            raise FieldMappingError(target, source_label, f"{type(exc).__name__}: {exc}") from None
        if spec.map is not None and value is not None:
            table = mapping.value_maps[spec.map]
            key = str(value)
            if key in table:
                value = table[key]
            elif "_default" in table:
                value = table["_default"]
            else:
                raise FieldMappingError(target, source_label, f"{value!r} is not in value map {spec.map!r}")
        if value is None and spec.value is not None:
            value = spec.value
        if spec.required and value in (None, ""):
            raise FieldMappingError(target, source_label, "required, but empty")
        (record.always if spec.on is WritePolicy.ALWAYS else record.create_only)[target] = value
    return record
