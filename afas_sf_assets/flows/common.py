"""Small look-ups several flows share: AFAS reference tables read once per run, ledger membership."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from afas_sf_assets.sync.flow import FlowContext
from afas_sf_assets.sync.state import IN_SALESFORCE


def reference_table(ctx: FlowContext, connector: str, key: str) -> dict[str, dict[str, Any]]:
    """A small AFAS table (item groups, price groups) by key, read once per run."""
    cache_key = f"table:{connector}"
    if cache_key not in ctx.cache:
        ctx.cache[cache_key] = {str(row[key]): row for row in ctx.afas.iter_rows(connector, key=(key,))}
    return ctx.cache[cache_key]


def synced(ctx: FlowContext, flow: str, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the given flow has in Salesforce now, or (this flow) will have before a later pass:
    queued in the run's bulk jobs, whose passes run in order."""
    wanted = list(dict.fromkeys(keys))
    entries = ctx.state.entries(flow, wanted)
    present = {key for key, entry in entries.items() if entry.status in IN_SALESFORCE}
    if ctx.queued is not None and flow == ctx.flow.name:
        present |= set(ctx.queued([key for key in wanted if key not in present]))
    return present


def standard_price_book(ctx: FlowContext) -> str:
    """The org's standard price book id, asked once per run."""
    if "standard_book" not in ctx.cache:
        rows = list(ctx.salesforce.iter_query("SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1"))
        if not rows:
            raise LookupError("the org has no standard price book")
        ctx.cache["standard_book"] = rows[0]["Id"]
    return str(ctx.cache["standard_book"])
