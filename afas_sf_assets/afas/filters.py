"""GetConnector filters: conditions, AND/OR groups, and their two wire encodings.

AFAS takes filters as three parallel lists (`filterfieldids`, `filtervalues`, `operatortypes`) in
which `,` separates conditions that AND and `;` separates groups that OR. A value cannot escape
either character, so a filter holding one is sent as `filterjson` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum

from afas_sf_assets.afas.dates import format_filter_datetime

FilterValue = str | int | float | Decimal | bool | date | datetime | None


class Operator(IntEnum):
    EQ = 1
    GE = 2
    LE = 3
    GT = 4
    LT = 5
    CONTAINS = 6
    NE = 7
    EMPTY = 8
    NOT_EMPTY = 9
    STARTS_WITH = 10
    NOT_CONTAINS = 11
    NOT_STARTS_WITH = 12
    ENDS_WITH = 13
    NOT_ENDS_WITH = 14
    QUICK_FILTER = 15


def format_value(value: FilterValue) -> str:
    """A Python value as AFAS expects it in `filtervalues` (dates local, without `Z`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_filter_datetime(value)
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, float | Decimal):
        return format(Decimal(str(value)), "f")
    return str(value)


@dataclass(frozen=True)
class Condition:
    field: str
    operator: Operator
    # EMPTY and NOT_EMPTY still need a (blank) value on the wire.
    value: FilterValue = None

    @property
    def wire_value(self) -> str:
        return format_value(self.value)


@dataclass(frozen=True)
class Where:
    """A filter in disjunctive normal form: the rows matching any group, each group an AND."""

    groups: tuple[tuple[Condition, ...], ...] = ()

    @classmethod
    def all(cls, *conditions: Condition) -> Where:
        return cls((tuple(conditions),)) if conditions else cls()

    @classmethod
    def any_of(cls, field: str, values: Iterable[FilterValue]) -> Where:
        """`field IN values`: one OR group per value (long lists are split into several calls)."""
        return cls(tuple((Condition(field, Operator.EQ, value),) for value in values))

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def or_(self, other: Where) -> Where:
        return Where(self.groups + other.groups)

    def and_(self, other: Where) -> Where:
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Where(tuple(left + right for left in self.groups for right in other.groups))

    def needs_json(self) -> bool:
        return any("," in cond.wire_value or ";" in cond.wire_value for group in self.groups for cond in group)

    def to_params(self) -> dict[str, str]:
        if self.is_empty:
            return {}
        if self.needs_json():
            return {"filterjson": self.to_json()}
        return {
            "filterfieldids": ";".join(",".join(c.field for c in g) for g in self.groups),
            "filtervalues": ";".join(",".join(c.wire_value for c in g) for g in self.groups),
            "operatortypes": ";".join(",".join(str(int(c.operator)) for c in g) for g in self.groups),
        }

    def to_json(self) -> str:
        filters = [
            {
                "@FilterId": f"Filter {index}",
                "Field": [
                    {"@FieldId": c.field, "@OperatorType": str(int(c.operator)), "#text": c.wire_value} for c in group
                ],
            }
            for index, group in enumerate(self.groups, start=1)
        ]
        return json.dumps({"Filters": {"Filter": filters}}, separators=(",", ":"), ensure_ascii=False)


def after_key(key_fields: Sequence[str], last_values: Sequence[FilterValue]) -> Where:
    """Rows strictly after `last_values` in the order of `key_fields` (keyset paging).

    For a composite key (a, b) this is `a > x OR (a = x AND b > y)`, which the OR groups can say.
    """
    groups: list[tuple[Condition, ...]] = []
    for index, field in enumerate(key_fields):
        equal = tuple(
            Condition(prior, Operator.EQ, value)
            for prior, value in zip(key_fields[:index], last_values[:index], strict=True)
        )
        groups.append((*equal, Condition(field, Operator.GT, last_values[index])))
    return Where(tuple(groups))
