"""Transform functions as a user writes them in a package of their own, for `{call: …}` in a mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def shelf_code(value: Any, row: Mapping[str, Any], *, prefix: str = "S") -> str:
    """`S-<group>-<code>`: reads another field of the row, and an argument from the mapping."""
    return f"{prefix}-{row['ItemGroup']}-{value}"


def refuses_x(value: Any, row: Mapping[str, Any]) -> Any:
    if str(value).startswith("X"):
        raise LookupError(f"no shelf for {value}")
    return value


NOT_A_FUNCTION = 42
