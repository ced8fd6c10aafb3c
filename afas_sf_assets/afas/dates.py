"""AFAS dates: rows carry Amsterdam local time behind a misleading `Z`; filters take no `Z` at all."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def parse_afas_datetime(value: str) -> datetime:
    """`2024-01-31T16:00:00Z` (or with fractions) → 16:00 in Amsterdam, as an aware datetime."""
    text = value.strip().removesuffix("Z")
    return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM)


def format_filter_datetime(value: datetime) -> str:
    """A datetime as an AFAS filter value: Amsterdam local time, seconds, no zone suffix.

    Fractions are dropped, which widens a `>=` filter slightly: the overlap is deliberate, AFAS
    stores sub-second times and a mark must never skip a row.
    """
    local = value.astimezone(AMSTERDAM) if value.tzinfo else value
    return local.strftime("%Y-%m-%dT%H:%M:%S")


def format_row_datetime(value: datetime) -> str:
    """A datetime the way AFAS writes it in GetConnector rows (local time, `Z` appended anyway)."""
    local = value.astimezone(AMSTERDAM) if value.tzinfo else value
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")
