"""Salesforce record ids: a 3-character key prefix, a 15-character case-sensitive id and its checksum."""

from __future__ import annotations

import re

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")


def _checksum(id15: str) -> str:
    out = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        out += _SUFFIX[bits]
    return out


def make_id(prefix: str, number: int) -> str:
    body = ""
    while number:
        number, digit = divmod(number, 62)
        body = _BASE62[digit] + body
    id15 = prefix + "0" * (12 - len(body)) + body
    # "Z" in the 4th place marks sandbox-made ids without changing their shape.
    id15 = id15[:3] + "Z" + id15[4:]
    return id15 + _checksum(id15)


def to_18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id; None when it is not an id at all."""
    if not ID_PATTERN.match(value):
        return None
    id15 = value[:15]
    return id15 + _checksum(id15)
