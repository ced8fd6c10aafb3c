"""Named transforms a mapping file can chain on a field: `transform: [trim, upper]`, `{number: {decimals: 2}}`.

Each takes the current value, the whole AFAS row and its arguments, and returns the new value. They
are pure and small, so a new one is a function and a line in TRANSFORMS.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from afas_sf_assets.afas.dates import parse_afas_datetime


class TransformError(ValueError):
    """A value the transform cannot work with; the engine reports it with the record and field."""


Transform = Callable[[Any, Mapping[str, Any], Any], Any]

# AFAS land codes (as Profit stores them) that differ from ISO 3166-1 alpha-2.
AFAS_COUNTRY_TO_ISO = {
    "NL": "NL",
    "B": "BE",
    "BE": "BE",
    "D": "DE",
    "DE": "DE",
    "F": "FR",
    "FR": "FR",
    "GB": "GB",
    "UK": "GB",
    "L": "LU",
    "LU": "LU",
    "A": "AT",
    "AT": "AT",
    "CH": "CH",
    "DK": "DK",
    "E": "ES",
    "ES": "ES",
    "I": "IT",
    "IT": "IT",
    "S": "SE",
    "SE": "SE",
    "USA": "US",
    "US": "US",
    "PL": "PL",
    "P": "PT",
    "PT": "PT",
    "IRL": "IE",
    "IE": "IE",
}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def trim(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def upper(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def lower(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def title(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return value.title() if isinstance(value, str) else value


def empty_to_null(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return None if value == "" else value


def concat(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    """Joins a list of source values (`from: [Street, HouseNumber]`), skipping empty parts."""
    separator = (args or {}).get("separator", " ") if isinstance(args, dict) else " "
    parts = value if isinstance(value, list | tuple) else [value]
    joined = separator.join(str(p).strip() for p in parts if p not in (None, ""))
    return joined or None


def number(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", ".") if isinstance(value, str) else str(value))
    except InvalidOperation as exc:
        raise TransformError(f"{value!r} is not a number") from exc
    if not amount.is_finite():
        raise TransformError(f"{value!r} is not a number")
    decimals = (args or {}).get("decimals") if isinstance(args, dict) else None
    if decimals is not None:
        amount = amount.quantize(Decimal(1).scaleb(-int(decimals)), rounding=ROUND_HALF_UP)
    return float(amount)


def vat(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    """Converts a price between excl. and incl. VAT: `{vat: {to: excl, incl_field: PriceInclVat, rate_field: …}}`."""
    amount = number(value, row, None)
    if amount is None:
        return None
    options = args or {}
    target = options.get("to", "excl")
    included = bool(row.get(options["incl_field"])) if "incl_field" in options else options.get("from") == "incl"
    rate_value = row.get(options["rate_field"]) if "rate_field" in options else options.get("rate", 21)
    rate = Decimal(str(rate_value if rate_value is not None else 21)) / 100
    price = Decimal(str(amount))
    if included and target == "excl":
        price = price / (1 + rate)
    elif not included and target == "incl":
        price = price * (1 + rate)
    return float(price.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def negate(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return None if value is None else not to_bool(value, row, args)


def to_bool(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "ja", "yes", "y", "j"):
        return True
    if text in ("0", "false", "nee", "no", "n", ""):
        return False
    raise TransformError(f"{value!r} is not a yes/no value")


def to_date(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    try:
        return parse_afas_datetime(str(value)).date().isoformat()
    except ValueError as exc:
        raise TransformError(f"{value!r} is not a date") from exc


def to_datetime(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    if value in (None, ""):
        return None
    try:
        return parse_afas_datetime(str(value)).isoformat()
    except ValueError as exc:
        raise TransformError(f"{value!r} is not a date and time") from exc


def country_iso(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    if value in (None, ""):
        return None
    code = str(value).strip().upper()
    if code in AFAS_COUNTRY_TO_ISO:
        return AFAS_COUNTRY_TO_ISO[code]
    if len(code) == 2 and code.isalpha():
        return code
    raise TransformError(f"unknown country code {value!r}")


def truncate(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return value[: int(args)] if isinstance(value, str) else value


def default(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return args if value in (None, "") else value


def text(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    return _text(value)


def resolve_call(args: Any) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """`package.module.function`, or `{function: package.module.function, args: {…}}`: the function's name,
    the function and its keyword arguments. A ValueError says what cannot be found."""
    if isinstance(args, str):
        name, arguments = args, {}
    elif isinstance(args, Mapping) and set(args) <= {"function", "args"} and isinstance(args.get("function"), str):
        name, arguments = args["function"], dict(args.get("args") or {})
    else:
        raise ValueError("call takes `package.module.function`, or {function: package.module.function, args: {…}}")
    return name, _import(name), arguments


@functools.cache
def _import(name: str) -> Callable[..., Any]:
    module_name, _, attribute = name.rpartition(".")
    if not module_name:
        raise ValueError(f"call {name!r}: give the function as package.module.function")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except ImportError as exc:
        raise ValueError(
            f"call {name}: cannot import {module_name} ({exc}); is it installed where Dagster runs?"
        ) from None
    except AttributeError:
        raise ValueError(f"call {name}: {module_name} has no {attribute}") from None
    if not callable(function):
        raise ValueError(f"call {name}: {attribute} is not a function")
    return function  # type: ignore[no-any-return]


def call(value: Any, row: Mapping[str, Any], args: Any) -> Any:
    """A user's own function, called as `function(value, row, **args)`; what it returns is the new value.
    Anything it raises fails this record only, with the function's name and message."""
    name, function, arguments = resolve_call(args)
    try:
        return function(value, row, **arguments)
    except Exception as exc:  # a user's code may raise anything; the row fails, never the flow
        raise TransformError(f"{name} raised {type(exc).__name__}: {exc}") from None


TRANSFORMS: dict[str, Transform] = {
    "trim": trim,
    "upper": upper,
    "lower": lower,
    "title": title,
    "empty_to_null": empty_to_null,
    "concat": concat,
    "number": number,
    "currency": lambda v, r, a: number(v, r, a or {"decimals": 2}),
    "vat": vat,
    "not": negate,
    "bool": to_bool,
    "date": to_date,
    "datetime": to_datetime,
    "country_iso": country_iso,
    "truncate": truncate,
    "default": default,
    "text": text,
    "call": call,
}
