"""Masking personal data before it reaches a log, an alert, Dagster metadata or the ledger."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w-])(\+?\d[\d\s-]{7,}\d)(?![\w-])")


def mask(text: str | None) -> str | None:
    """`jan.jansen@bakker.nl` → `j***@b***.nl`; long digit runs that look like phone numbers → `***`."""
    if text is None:
        return None
    masked = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}***.{m.group(3)}", text)
    return _PHONE.sub("***", masked)
