"""What the org's describe allows: a mapping checked before data moves, each value before it is sent.

Salesforce refuses a text longer than the field, a number beyond its precision, a date outside
1700 to 4000 or a value outside a restricted picklist, and a JSON body with NaN is refused whole; so
each is caught here first, naming the field, the limit and what the value was, and one record fails
instead of a batch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from afas_sf_assets.mapping.model import Mapping as MappingFile
from afas_sf_assets.mapping.model import TooLong, WritePolicy

OrgFields = Mapping[str, Mapping[str, Any]]  # lower-cased field name → describe of the field
_TEXT = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "encryptedstring", "combobox"}
_NUMBER = {"double", "currency", "percent", "int"}
_EARLIEST, _LATEST = date(1700, 1, 1), date(4000, 12, 31)
# NUL and the other C0 controls but tab and line breaks: Salesforce refuses or silently drops them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WEB_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)


def mapping_problems(
    mapping: MappingFile, used_profiles: Iterable[str], org: Mapping[str, OrgFields | None]
) -> list[str]:
    """Mapped fields the org has but cannot be written as the mapping says (read-only, create-only)."""
    used = {f"profiles.{name}.fields" for name in used_profiles} | {"fields"}
    problems = []
    for section, sobject, fields in mapping.sections():
        described = org.get(sobject)
        if section not in used or described is None:
            continue
        for name, spec in fields.items():
            field = described.get(name.lower())
            if field is None:
                continue
            where = f"{mapping.path.name if mapping.path else mapping.flow}: {section}.{name}"
            if not field.get("createable") and not field.get("updateable"):
                problems.append(f"{where}: {sobject}.{field['name']} is read-only in this org")
            elif spec.on is WritePolicy.ALWAYS and not field.get("updateable"):
                problems.append(
                    f"{where}: {sobject}.{field['name']} can only be set when a record is created; map it with "
                    "`on: create`"
                )
    return problems


@dataclass(frozen=True)
class Misfit:
    """A value the org would refuse, with the code Salesforce itself would answer."""

    code: str
    field: str
    message: str


def truncated_fields(mapping: MappingFile) -> dict[str, set[str]]:
    """Per Salesforce object, the fields the mapping lets be cut to the org's length."""
    out: dict[str, set[str]] = {}
    for _, sobject, fields in mapping.sections():
        out.setdefault(sobject, set()).update(n.lower() for n, s in fields.items() if s.too_long is TooLong.TRUNCATE)
    return out


def fit_payload(payload: dict[str, Any], fields: OrgFields, truncate: set[str]) -> Misfit | None:
    """Cut what may be cut (in place); the first value the org would refuse, or None."""
    for name, value in list(payload.items()):
        field = fields.get(name.lower())
        if field is None or value is None or isinstance(value, dict):
            continue
        kind = field.get("type")
        if kind in _TEXT and isinstance(value, str):
            control = _CONTROL.search(value)
            if control:
                return Misfit(
                    "INVALID_CHARACTER",
                    name,
                    f"holds the control character U+{ord(control.group()):04X} at position {control.start() + 1}",
                )
            if kind == "url" and not _WEB_URL.match(value):
                return Misfit("INVALID_URL", name, f"{value[:60]!r} is not an http(s) address")
            length = int(field.get("length") or 0)
            if length and len(value) > length:
                if name.lower() in truncate:
                    value = payload[name] = value[:length]
                else:
                    return Misfit(
                        "STRING_TOO_LONG",
                        name,
                        f"{len(value)} characters; the org allows {length} (`too_long: truncate` cuts it)",
                    )
            if kind == "picklist" and field.get("restrictedPicklist"):
                allowed = [v["value"] for v in field.get("picklistValues") or [] if v.get("active", True)]
                if value not in allowed:
                    shown = ", ".join(allowed[:12]) + (", …" if len(allowed) > 12 else "")
                    return Misfit(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        name,
                        f"{value!r} is not a value of this restricted picklist ({shown})",
                    )
        elif kind in _NUMBER:
            misfit = _number_misfit(name, value, field)
            if misfit:
                return misfit
        elif kind in ("date", "datetime"):
            day = _day(value)
            if day is not None and not _EARLIEST <= day <= _LATEST:
                return Misfit(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    name,
                    f"{value} lies outside the dates Salesforce stores (1700-01-01 to 4000-12-31)",
                )
    return None


def _number_misfit(name: str, value: Any, field: Mapping[str, Any]) -> Misfit | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return Misfit("JSON_PARSER_ERROR", name, f"{value!r} is not a number")
    if not number.is_finite():
        return Misfit("JSON_PARSER_ERROR", name, f"{value} is not a finite number")
    if field.get("type") == "int":
        precision, scale = int(field.get("digits") or 18), 0
    else:
        precision, scale = int(field.get("precision") or 18), int(field.get("scale") or 0)
    integer_digits = max(number.adjusted() + 1, 0)
    if integer_digits > precision - scale:
        return Misfit(
            "NUMBER_OUTSIDE_VALID_RANGE",
            name,
            f"{value} has {integer_digits} digits before the decimal point; the org allows {precision - scale}",
        )
    return None


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
