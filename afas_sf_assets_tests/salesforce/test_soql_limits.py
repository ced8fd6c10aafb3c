"""Queries with lists of values stay within Salesforce's limits by construction: split by the bytes they
take in the URI once encoded, every value looked up exactly once, refused before sending when no
request could carry them."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afas_sf_assets.salesforce.soql import (
    MAX_STRING_LITERAL_CHARS,
    SoqlTooLong,
    check_statement,
    encoded_length,
    in_queries,
)

PACKAGE = Path(__file__).resolve().parents[2] / "afas_sf_assets"
TEMPLATE = "SELECT Id, Email FROM Contact WHERE Email IN {values} AND AFAS_Contact_Key__c = null"
# Realistic values at their worst: long, with quotes and backslashes, and non-ASCII.
HOSTILE = [
    f"o'brien.{'é' * 20}.{n}\\x@{'ü' * 30}-zeer-lange-domeinnaam-voor-een-webwinkel.example" for n in range(5_000)
]


def literals_in(soql: str) -> list[str]:
    inside = soql.split(" IN (", 1)[1].split(")", 1)[0]
    return [part.strip("'").replace("\\'", "'").replace("\\\\", "\\") for part in inside.split("','")]


def test_a_large_batch_of_hostile_values_is_split_to_fit_and_covers_every_value_once() -> None:
    budget = 15_000
    statements = list(in_queries(TEMPLATE, HOSTILE, budget_bytes=budget))
    assert len(statements) > 1
    for soql in statements:
        assert encoded_length(soql) <= budget
        # What requests puts in the URI is what was measured.
        assert len(urlencode({"q": soql})) - len("q=") == encoded_length(soql)
        assert parse_qs(urlencode({"q": soql}))["q"] == [soql]
    looked_up = [value for soql in statements for value in literals_in(soql)]
    assert sorted(looked_up) == sorted(HOSTILE)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=300), max_size=200), st.integers(min_value=2_000, max_value=16_000))
def test_any_values_fit_any_budget_that_holds_one(values: list[str], budget: int) -> None:
    for soql in in_queries(TEMPLATE, values, budget_bytes=budget):
        check_statement(soql, budget)


def test_two_lists_from_the_same_values_are_split_together() -> None:
    numbers = [f"{n:08d}" for n in range(3_000)]
    statements = list(
        in_queries(
            "SELECT Id FROM Order WHERE AFAS_Order_Key__c IN {keys} OR AFAS_Order_Number__c IN {values}",
            numbers,
            budget_bytes=8_000,
            derived={"keys": lambda n: f"order|{n}"},
        )
    )
    assert all(encoded_length(s) <= 8_000 for s in statements)
    for soql in statements:
        keys, plain = soql.split(" IN (")[1], soql.split(" IN (")[2]
        assert keys.count("order|") == plain.count("'") // 2


def test_a_value_longer_than_salesforce_compares_matches_nothing_and_fails_no_other() -> None:
    """A hostile AFAS row (a 5,000-character order number) once failed the shipments flow as a whole."""
    too_long = "x" * (MAX_STRING_LITERAL_CHARS + 1)
    statements = list(in_queries(TEMPLATE, ["a", too_long, "b"], budget_bytes=16_000))
    assert len(statements) == 1 and "'a','b'" in statements[0] and too_long not in statements[0]
    assert list(in_queries(TEMPLATE, [too_long], budget_bytes=16_000)) == []


def test_what_no_request_can_carry_is_refused_before_sending_with_the_limit_named() -> None:
    with pytest.raises(SoqlTooLong, match="100,000"):
        check_statement("SELECT Id FROM Account WHERE Name = 'x'" + " OR Name = 'x'" * 8_000, 1_000_000)
    with pytest.raises(SoqlTooLong, match="16,384"):
        check_statement("SELECT Id FROM Account WHERE Name IN ('" + "é" * 3_000 + "')", 15_000)


# The statuses to send, from the orders-to-AFAS settings: a handful of picklist values, part of one
# condition; the whole statement is still checked before it is sent.
SETTINGS_LISTS = {"flows/orders_out.py:waiting_for_afas"}


def test_no_query_with_a_list_of_values_is_built_outside_the_builder() -> None:
    """An f-string that puts a value after ` IN ` builds a list the builder did not size; the sandbox's own
    SOQL engine is exempt."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for node in ast.walk(function):
                if not isinstance(node, ast.JoinedStr):
                    continue
                parts = node.values
                for before, after in itertools.pairwise(parts):
                    if (
                        isinstance(before, ast.Constant)
                        and str(before.value).rstrip().endswith(" IN")
                        and isinstance(after, ast.FormattedValue)
                    ):
                        where = f"{path.relative_to(PACKAGE)}:{function.name}"
                        if where not in SETTINGS_LISTS:
                            offenders.append(f"{where} (line {node.lineno})")
    assert not offenders, offenders
