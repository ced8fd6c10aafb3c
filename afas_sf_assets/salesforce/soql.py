"""SOQL with lists of values, split so that every request stays within Salesforce's limits.

A REST query travels in the URI, `GET /services/data/vXX.X/query/?q=<statement, URL-encoded>`, and
Salesforce refuses:
- a URI over 16,384 bytes (HTTP 414), or a URI and headers together over that (HTTP 431);
- a statement over 100,000 characters (`MALFORMED_QUERY`);
- a string literal in a WHERE clause over 4,000 characters.
The URI is what binds: once encoded, a quote or a comma takes three bytes and a non-ASCII letter six or
more, so a list of 500 e-mail addresses is already too long. Every query the project makes with a list
of values is built here, and every statement is checked here before it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from urllib.parse import quote_plus

from simple_salesforce.format import quote_soql_value

MAX_URI_BYTES = 16_384
MAX_STATEMENT_CHARS = 100_000
MAX_STRING_LITERAL_CHARS = 4_000
# What the HTTP client adds to the headers it is given (Host, User-Agent, Accept, Accept-Encoding,
# Connection, with their separators), with room to spare.
CLIENT_HEADER_BYTES = 512
# The placeholder of the list of values in a template; `derived` lists add their own names.
VALUES = "values"


class SoqlTooLong(ValueError):
    """A statement that no request can carry: it names the limit and by how much it is over."""


def encoded_length(soql: str) -> int:
    """The bytes a statement takes in the query string, as simple-salesforce sends it (requests' encoding)."""
    return len(quote_plus(soql))


def check_statement(soql: str, budget_bytes: int) -> None:
    """Refuse, before sending, a statement Salesforce would refuse for its length."""
    if len(soql) > MAX_STATEMENT_CHARS:
        raise SoqlTooLong(f"the SOQL statement is {len(soql):,} characters; Salesforce takes at most 100,000")
    if encoded_length(soql) > budget_bytes:
        raise SoqlTooLong(
            f"the SOQL statement takes {encoded_length(soql):,} bytes in the request URI, {budget_bytes:,} fit "
            f"(Salesforce refuses a URI with its headers over {MAX_URI_BYTES:,} bytes)"
        )


def in_queries(
    template: str,
    values: Iterable[str],
    *,
    budget_bytes: int,
    derived: Mapping[str, Callable[[str], str]] | None = None,
) -> Iterator[str]:
    """The statements that together look up every value: `{values}` in the template becomes an IN list
    such as `('a','b')`, each `{name}` of `derived` the list of that function of the same values; each
    statement fits `budget_bytes` once encoded. Values repeat in no statement, and none is left out but
    those longer than Salesforce compares in a WHERE clause, which match nothing."""
    lists: dict[str, Callable[[str], str]] = {VALUES: str, **(derived or {})}
    placeholders = [f"{{{name}}}" for name in lists]
    missing = [p for p in placeholders if p not in template]
    if missing:
        raise ValueError(f"the template has no {', '.join(missing)}: {template}")
    fixed = encoded_length(_fill(template, lists, []))
    if fixed > budget_bytes:
        raise SoqlTooLong(f"the SOQL statement without its values already takes {fixed:,} bytes: {template[:200]}")
    chunk: list[str] = []
    used = fixed
    for value in dict.fromkeys(str(v) for v in values):
        literals = [quote_soql_value(make(value)) for make in lists.values()]
        if max(len(literal) - 2 for literal in literals) > MAX_STRING_LITERAL_CHARS:
            # No field a WHERE clause compares holds so long a string (text fields take 255 characters at
            # most), so the value matches nothing: left out, it cannot fail the lookup of the others.
            continue
        cost = sum(encoded_length(literal) + len(quote_plus(",")) for literal in literals)
        if fixed + cost > budget_bytes:
            raise SoqlTooLong(f"one value alone makes the statement too long: {template[:200]}")
        if chunk and used + cost > budget_bytes:
            yield _fill(template, lists, chunk)
            chunk, used = [], fixed
        chunk.append(value)
        used += cost
    if chunk:
        yield _fill(template, lists, chunk)


def _fill(template: str, lists: Mapping[str, Callable[[str], str]], chunk: list[str]) -> str:
    soql = template
    for name, make in lists.items():
        # An empty list only measures the template; Salesforce never receives `IN ()`.
        soql = soql.replace(f"{{{name}}}", "(" + ",".join(quote_soql_value(make(v)) for v in chunk) + ")")
    return soql
