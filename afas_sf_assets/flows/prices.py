"""Prices: one price book per AFAS price group; each product's standard price book entry first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets.flows.common import reference_table, standard_price_book, synced
from afas_sf_assets.flows.rows import AfasSalesPrice
from afas_sf_assets.mapping.apply import MappedRecord, apply_mapping
from afas_sf_assets.sync.flow import Flow, FlowContext, Work
from afas_sf_assets.sync.state import LedgerEntry, RecordStatus

STANDARD_PREFIX = "~STANDARD"
PRICE_BOOKS_LEDGER = "prices.books"


def standard_key(item: str, currency: str) -> str:
    return f"{STANDARD_PREFIX}|{item}|{currency}"


def _ensure_price_books(ctx: FlowContext, groups: set[str]) -> None:
    """A price book per group, written only when it is new or AFAS renamed the group."""
    names = reference_table(ctx, "AfasSf_PriceGroups", "PriceGroup")
    wanted = {group: str(names[group].get("Description") or group) for group in groups}
    known = ctx.state.entries(PRICE_BOOKS_LEDGER, wanted)
    todo = sorted(
        g
        for g, name in wanted.items()
        if not (known.get(g) and known[g].status is RecordStatus.SYNCED and known[g].payload_hash == name)
    )
    if not todo or ctx.dry_run:
        return
    records = [{"AFAS_Price_Group__c": group, "Name": wanted[group], "IsActive": True} for group in todo]
    outcomes = ctx.salesforce.upsert("Pricebook2", "AFAS_Price_Group__c", records)
    ctx.state.save(
        PRICE_BOOKS_LEDGER,
        [
            LedgerEntry(g, o.id, wanted[g], RecordStatus.SYNCED)
            for g, o in zip(todo, outcomes, strict=True)
            if o.success
        ],
    )
    ctx.count("price_books", sum(o.success for o in outcomes))


class StandardRows(Mapping[tuple[str, str], dict[str, Any]]):
    """The standard group's rows by item and currency, each held as a tuple of the fields the mapping
    reads: a first run keeps them for the whole run, 100,000 of them at the large size, and as dicts they
    took most of the flow's memory."""

    def __init__(self, fields: list[str], rows: Iterable[dict[str, Any]]) -> None:
        self._fields = tuple(fields)
        self._values = {
            (str(row["ItemCode"]), str(row["CurrencyId"])): tuple(row.get(f) for f in self._fields) for row in rows
        }

    def __getitem__(self, key: tuple[str, str]) -> dict[str, Any]:
        return dict(zip(self._fields, self._values[key], strict=True))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


# Items without a standard entry beyond which the standard group's prices are read whole, once a run:
# looked up by item, 40-odd fit in one request, so a first run would cost a call per 40 items.
LOOK_UP_AT_MOST = 100


def _standard_prices(ctx: FlowContext, group: str, items: list[str]) -> Mapping[tuple[str, str], dict[str, Any]]:
    """The standard price group's rows for these items, by item and currency."""
    if not items:
        return {}
    if "standard_prices" in ctx.cache:
        return ctx.cache["standard_prices"]  # type: ignore[no-any-return]
    standard = Where.all(Condition("PriceGroup", Operator.EQ, group))
    few = len(items) <= LOOK_UP_AT_MOST
    where = standard.and_(Where.any_of("ItemCode", items)) if few else standard
    found = StandardRows(
        ctx.mapping.source_fields,
        ctx.afas.iter_rows(ctx.mapping.source.connector, key=ctx.mapping.source.key, where=where),
    )
    if not few:
        ctx.cache["standard_prices"] = found
    return found


def price_book_entries(ctx: FlowContext, works: list[Work]) -> None:
    """Group entries wait for their product and price group; standard entries are added in front."""
    groups = reference_table(ctx, "AfasSf_PriceGroups", "PriceGroup")
    items = {str(w.row["ItemCode"]) for w in works}
    products = synced(ctx, "products", items)
    standard_group = ctx.mapping.options.get("standard_price_group", "STANDAARD")
    standards = synced(ctx, "prices", [standard_key(str(w.row["ItemCode"]), str(w.row["CurrencyId"])) for w in works])
    _ensure_price_books(ctx, {str(w.row["PriceGroup"]) for w in works if str(w.row["PriceGroup"]) in groups})
    # The standard entry takes the standard group's price, even when that row comes in a later batch.
    lacking = sorted(
        {
            str(w.row["ItemCode"])
            for w in works
            if standard_key(str(w.row["ItemCode"]), str(w.row["CurrencyId"])) not in standards
        }
    )
    standard_prices = _standard_prices(ctx, standard_group, lacking)
    added: dict[str, Work] = {}
    for work in list(works):
        assert work.record is not None
        item, group, currency = str(work.row["ItemCode"]), str(work.row["PriceGroup"]), str(work.row["CurrencyId"])
        work.write_pass = 1
        work.record.create_only["Product2"] = {"AFAS_Item_Code__c": item}
        work.record.create_only["Pricebook2"] = {"AFAS_Price_Group__c": group}
        if group not in groups:
            work.waiting_for = f"price group {group} does not exist in AFAS"
            continue
        if item not in products:
            work.waiting_for = f"product {item} is not in Salesforce yet"
            continue
        key = standard_key(item, currency)
        follows_standard_group = group == standard_group
        if key in standards and not follows_standard_group:
            continue
        if key in added and not follows_standard_group:
            continue
        source = standard_prices.get((item, currency), work.row)
        price = (
            apply_mapping(ctx.mapping, source).always["UnitPrice"]
            if source is not work.row
            else work.record.always["UnitPrice"]
        )
        standard = Work(
            key,
            source,
            MappedRecord(
                always={"AFAS_Price_Key__c": key, "UnitPrice": price, "IsActive": True},
                create_only={
                    "Pricebook2Id": standard_price_book(ctx),
                    "Product2": {"AFAS_Item_Code__c": item},
                    "CurrencyIsoCode": currency,
                },
            ),
        )
        if key in added:
            works.remove(added[key])
        added[key] = standard
        works.append(standard)


PRICES = Flow(
    name="prices",
    mapping="prices.yaml",
    row_model=AfasSalesPrice,
    depends_on=("products", "customers"),
    rules=(price_book_entries,),
    extra_requirements=lambda ctx: {
        "Pricebook2": ["AFAS_Price_Group__c", "IsStandard"],
        "PricebookEntry": ["Pricebook2Id", "Product2Id"],
    },
    writes_also=("Pricebook2", "PricebookEntry"),
    reads_also=("AfasSf_PriceGroups",),
    description="AFAS sales prices per price group → a price book per group, standard entries first.",
)
