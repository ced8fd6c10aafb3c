"""Masking personal data before it reaches a log, an alert, Dagster metadata or the ledger.

Anything shaped like an e-mail address is masked, whatever its script or whether its domain has a dot
(`piet@localhost`, `jörg@bäckerei.de`), and so is any run of 9 or more digits written as a phone number
writes them (`+31 6 1234 5678`, `(020) 123-4567`, `0612345678`). A date (`2026-11-29`) has 8 digits and
stays readable.
"""

from __future__ import annotations

import re

# No blanks, no brackets or quotes, no second @: the parts of an address as anyone writes one.
_ADDRESS_PART = r"[^\s@<>()\[\]{},;:\"'`|]"
_EMAIL = re.compile(rf"({_ADDRESS_PART})({_ADDRESS_PART}*)@({_ADDRESS_PART}+)")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-/]*\d(?!\w)")
_MIN_PHONE_DIGITS = 9


def _email(match: re.Match[str]) -> str:
    domain = match.group(3).rstrip(".")
    trailing = match.group(3)[len(domain) :]
    tld = domain.rsplit(".", 1)[1] if "." in domain and domain.rsplit(".", 1)[1].isalpha() else None
    return f"{match.group(1)}***@{domain[:1]}***" + (f".{tld}" if tld else "") + trailing


def _phone(match: re.Match[str]) -> str:
    digits = sum(c.isdigit() for c in match.group())
    return "***" if digits >= _MIN_PHONE_DIGITS else match.group()


def mask(text: str | None) -> str | None:
    """`jan.jansen@bakker.nl` → `j***@b***.nl`; phone-like digit runs → `***`."""
    if text is None:
        return None
    return _PHONE.sub(_phone, _EMAIL.sub(_email, text))
