"""The real client against the running AFAS sandbox: paging, filters, metainfo."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from afas_sf_assets.afas.client import MAX_QUERY_LENGTH, AfasClient
from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.afas.dates import parse_afas_datetime
from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets_tests.sandbox_process import Sandbox


def keys(rows: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in fields) for row in rows]


@pytest.mark.parametrize("connector", sorted(CONNECTOR_SET))
def test_every_connector_reads_completely_in_key_order(
    afas: AfasClient, clean_sandbox: Sandbox, connector: str
) -> None:
    spec = CONNECTOR_SET[connector]
    expected = clean_sandbox.rows(connector)
    rows = list(afas.iter_rows(connector, key=spec.key, page_size=17))
    assert Counter(keys(rows, *spec.key)) == Counter(keys(expected, *spec.key))
    assert len(set(keys(rows, *spec.key))) == len(rows), "no row may come twice"


def test_paging_costs_one_call_per_page(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    total = len(clean_sandbox.rows("AfasSf_Items"))
    clean_sandbox.reset_calls()
    rows = list(afas.iter_rows("AfasSf_Items", key=("ItemCode",), page_size=40))
    assert len(rows) == total
    # A full last page needs one more (empty) call to see the end: AFAS returns no total.
    assert clean_sandbox.calls()["total"] == total // 40 + 1
    assert [r["ItemCode"] for r in rows] == sorted((r["ItemCode"] for r in rows), key=str.lower)


# Python's reading of each operator, applied to the same rows the sandbox holds.
OPERATOR_CASES = [
    (Operator.EQ, "Description", "Kleding", lambda v: v is not None and v.lower() == "kleding"),
    (Operator.GE, "SortOrder", 2, lambda v: v is not None and v >= 2),
    (Operator.LE, "SortOrder", 2, lambda v: v is not None and v <= 2),
    (Operator.GT, "SortOrder", 2, lambda v: v is not None and v > 2),
    (Operator.LT, "SortOrder", 2, lambda v: v is not None and v < 2),
    (Operator.CONTAINS, "Description", "en", lambda v: "en" in (v or "").lower()),
    (Operator.NE, "ParentGroupCode", "KLEDING", lambda v: (v or "").lower() != "kleding"),
    (Operator.EMPTY, "ParentGroupCode", None, lambda v: v in (None, "")),
    (Operator.NOT_EMPTY, "ParentGroupCode", None, lambda v: v not in (None, "")),
    (Operator.STARTS_WITH, "Description", "S", lambda v: (v or "").lower().startswith("s")),
    (Operator.NOT_CONTAINS, "Description", "en", lambda v: "en" not in (v or "").lower()),
    (Operator.NOT_STARTS_WITH, "Description", "S", lambda v: not (v or "").lower().startswith("s")),
    (Operator.ENDS_WITH, "Description", "en", lambda v: (v or "").lower().endswith("en")),
    (Operator.NOT_ENDS_WITH, "Description", "en", lambda v: not (v or "").lower().endswith("en")),
    (Operator.QUICK_FILTER, "Description", "ort", lambda v: "ort" in (v or "").lower()),
]


@pytest.mark.parametrize(("operator", "field", "value", "matches"), OPERATOR_CASES, ids=lambda c: str(c))
def test_each_operator(
    afas: AfasClient, clean_sandbox: Sandbox, operator: Operator, field: str, value: Any, matches: Any
) -> None:
    all_rows = clean_sandbox.rows("AfasSf_ItemGroups")
    expected = sorted(r["GroupCode"] for r in all_rows if matches(r[field]))
    where = Where.all(Condition(field, operator, value))
    got = sorted(r["GroupCode"] for r in afas.iter_rows("AfasSf_ItemGroups", key=("GroupCode",), where=where))
    assert got == expected
    assert 0 < len(got) < len(all_rows), "the case must split the rows to prove anything"


def test_and_or_groups(afas: AfasClient) -> None:
    where = Where.all(Condition("ParentGroupCode", Operator.EQ, "KLEDING"), Condition("SortOrder", Operator.LE, 2)).or_(
        Where.all(Condition("GroupCode", Operator.EQ, "SPORT"))
    )
    got = [r["GroupCode"] for r in afas.iter_rows("AfasSf_ItemGroups", key=("GroupCode",), where=where)]
    assert sorted(got) == ["BROEKEN", "SHIRTS", "SPORT"]


def test_values_with_separators_go_as_filterjson(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    clean_sandbox.upsert(
        "AfasSf_ItemGroups",
        [
            {"GroupCode": "SEP-1", "Description": "Jassen, mutsen; sjaals", "SortOrder": 99},
            {"GroupCode": "SEP-2", "Description": "Jassen", "SortOrder": 99},
        ],
    )
    try:
        where = Where.all(Condition("Description", Operator.EQ, "Jassen, mutsen; sjaals"))
        assert where.needs_json()
        got = [r["GroupCode"] for r in afas.iter_rows("AfasSf_ItemGroups", key=("GroupCode",), where=where)]
        assert got == ["SEP-1"]
    finally:
        clean_sandbox.delete("AfasSf_ItemGroups", {"SortOrder": 99})


def test_long_value_lists_are_split_under_the_query_limit(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    codes = [r["ItemCode"] for r in clean_sandbox.rows("AfasSf_Items")]
    wanted = [*codes[:150], "NO-SUCH-ITEM"]
    clean_sandbox.reset_calls()
    got = [
        r["ItemCode"] for r in afas.iter_rows("AfasSf_Items", key=("ItemCode",), where=Where.any_of("ItemCode", wanted))
    ]
    assert sorted(got) == sorted(codes[:150])
    # One query string for 151 codes would be ~6,000 characters; the sandbox answers those with 404.
    assert clean_sandbox.calls()["total"] > 2
    assert MAX_QUERY_LENGTH < 2049


def test_modification_date_filter_is_local_time_and_inclusive(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    rows = clean_sandbox.rows("AfasSf_Debtors")
    dates = sorted(parse_afas_datetime(r["ModifiedDate"]) for r in rows)
    mark = dates[len(dates) // 2]
    where = Where.all(Condition("ModifiedDate", Operator.GE, mark))
    got = list(afas.iter_rows("AfasSf_Debtors", key=("DebtorId",), where=where))
    assert len(got) == sum(1 for d in dates if d >= mark)
    assert any(parse_afas_datetime(r["ModifiedDate"]) == mark for r in got), ">= keeps the row at the mark"


def test_composite_key_paging(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    expected = keys(clean_sandbox.rows("AfasSf_Stock"), "ItemCode", "Warehouse")
    got = keys(
        list(afas.iter_rows("AfasSf_Stock", key=("ItemCode", "Warehouse"), page_size=3)), "ItemCode", "Warehouse"
    )
    assert sorted(got) == sorted(expected)
    assert len(set(got)) == len(got)


def test_paging_across_concurrent_changes(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    """Rows inserted, changed and deleted between pages never make a row present throughout go missing or repeat."""
    before = {r["ItemCode"] for r in clean_sandbox.rows("AfasSf_Items")}
    stable = before - {"ART-000003", "ART-000150"}
    seen: list[str] = []
    changed = threading.Event()
    try:
        for index, row in enumerate(afas.iter_rows("AfasSf_Items", key=("ItemCode",), page_size=10)):
            seen.append(row["ItemCode"])
            if index == 25 and not changed.is_set():
                # Inserts before and after the cursor, an update of an unread row, a delete.
                clean_sandbox.upsert(
                    "AfasSf_Items",
                    [
                        {"ItemCode": "AAA-NEW-FIRST", "Description": "new before the cursor"},
                        {"ItemCode": "ART-000100-NEW", "Description": "new after the cursor"},
                        {"ItemCode": "ART-000140", "Description": "renamed while paging"},
                    ],
                )
                clean_sandbox.delete("AfasSf_Items", {"ItemCode": "ART-000150"})
                changed.set()
        assert changed.is_set()
        counts = Counter(seen)
        assert not [code for code, n in counts.items() if n > 1], "a row came twice"
        assert stable <= set(seen), "a row present throughout was skipped"
        assert "ART-000100-NEW" in seen and "AAA-NEW-FIRST" not in seen
    finally:
        clean_sandbox.delete("AfasSf_Items", {"ItemCode": "AAA-NEW-FIRST"})
        clean_sandbox.delete("AfasSf_Items", {"ItemCode": "ART-000100-NEW"})


def test_latest_value_is_one_descending_row(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    newest = max(r["ModifiedDate"] for r in clean_sandbox.rows("AfasSf_Debtors"))
    clean_sandbox.reset_calls()
    assert afas.latest_value("AfasSf_Debtors", "ModifiedDate") == newest
    assert clean_sandbox.calls()["total"] == 1


def test_metainfo(afas: AfasClient) -> None:
    meta = afas.metainfo()
    assert {c.id for c in meta.get_connectors} == set(CONNECTOR_SET)
    assert {
        "KnSalesRelationOrg",
        "KnSalesRelationPer",
        "FbItemArticle",
        "FbSales",
        "FbSalesQuotation",
        "FbDirectInvoice",
        "FiEntries",
    } <= {c.id for c in meta.update_connectors}
    items = afas.get_connector_info("AfasSf_Items")
    assert [f.id for f in items.fields] == list(CONNECTOR_SET["AfasSf_Items"].field_ids)
    assert {f.id: f.data_type for f in items.fields}["ModifiedDate"] == "date"
    sales = afas.update_connector_info("FbSales")
    assert {f.field_id for f in sales.fields if f.mandatory} == {"DbId"}
    (lines,) = [o for o in sales.objects if o.name == "FbSalesLines"]
    assert {f.field_id for f in lines.fields if f.mandatory} == {"VaIt", "ItCd", "BiUn", "QuUn"}
    assert afas.profit_version().count(".") == 2


def test_dates_parse(afas: AfasClient) -> None:
    row = next(afas.iter_rows("AfasSf_Debtors", key=("DebtorId",), page_size=1))
    assert isinstance(parse_afas_datetime(row["ModifiedDate"]), datetime)
