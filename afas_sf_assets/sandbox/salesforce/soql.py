"""The SOQL subset the sandbox answers, parsed into a small tree and evaluated over stored records.

Supported: field lists with parent fields (`Account.Name`), `COUNT()`, WHERE with `= != <> < > <= >=
IN NOT IN LIKE AND OR NOT ( )`, null, booleans, numbers, dates and datetimes, strings escaped the way
simple-salesforce escapes them, ORDER BY (ASC/DESC, NULLS FIRST/LAST), LIMIT and OFFSET. Anything
else is a MALFORMED_QUERY, as Salesforce answers a query it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any


class MalformedQuery(Exception):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Any = None


# Salesforce's own limits on a statement and on each string in its WHERE clause.
MAX_STATEMENT_CHARS = 100_000
MAX_STRING_CHARS = 4_000


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_STATEMENT_CHARS:
        raise MalformedQuery(f"SOQL statements cannot be longer than {MAX_STATEMENT_CHARS} characters")
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise MalformedQuery(f"unexpected token at position {position}: {text[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        value: Any = raw
        try:
            if kind == "string":
                value = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])
                if len(value) > MAX_STRING_CHARS:
                    raise MalformedQuery(f"a string in a WHERE clause is limited to {MAX_STRING_CHARS} characters")
            elif kind == "number":
                value = float(raw) if "." in raw else int(raw)
            elif kind == "date":
                value = date.fromisoformat(raw)
            elif kind == "datetime":
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
                value = moment.astimezone(UTC)
        except ValueError as exc:
            raise MalformedQuery(f"invalid literal {raw!r}") from exc
        tokens.append(Token(kind, raw, value))
    return tokens


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Any, ...]
    negate: bool


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    part: Any


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    count: bool
    sobject: str
    where: Any
    order_by: tuple[tuple[str, bool, bool | None], ...]  # field, descending, nulls_last
    limit: int | None
    offset: int


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, offset: int = 0) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if position < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token.kind == "word" and token.text.upper() in words:
            self.index += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise MalformedQuery(f"expected {word}, found {found.text if found else 'the end'}")

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            raise MalformedQuery(f"expected {text or kind}, found {token.text if token else 'the end'}")
        self.index += 1
        return token

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        fields: list[str] = []
        count = False
        while True:
            token = self.expect("word")
            if token.text.upper() == "COUNT" and self.peek() and self.peek().text == "(":  # type: ignore[union-attr]
                self.expect("punct", "(")
                self.expect("punct", ")")
                count = True
            elif token.text.upper() == "SELECT":
                raise MalformedQuery("subqueries are not supported")
            else:
                fields.append(token.text)
            if not (self.peek() and self.peek().text == ","):  # type: ignore[union-attr]
                break
            self.index += 1
        self.expect_keyword("FROM")
        sobject = self.expect("word").text
        where = None
        if self.keyword("WHERE"):
            where = self.parse_or()
        order: list[tuple[str, bool, bool | None]] = []
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                field = self.expect("word").text
                descending = False
                if self.keyword("DESC"):
                    descending = True
                else:
                    self.keyword("ASC")
                nulls_last: bool | None = None
                if self.keyword("NULLS"):
                    nulls_last = self.keyword("LAST")
                    if not nulls_last:
                        self.expect_keyword("FIRST")
                order.append((field, descending, nulls_last))
                if not (self.peek() and self.peek().text == ","):  # type: ignore[union-attr]
                    break
                self.index += 1
        limit = None
        offset = 0
        if self.keyword("LIMIT"):
            limit = int(self.expect("number").value)
        if self.keyword("OFFSET"):
            offset = int(self.expect("number").value)
        if self.peek() is not None:
            raise MalformedQuery(f"unexpected token {self.peek().text!r}")  # type: ignore[union-attr]
        if count and fields:
            raise MalformedQuery("COUNT() cannot be combined with fields")
        return Query(tuple(fields), count, sobject, where, tuple(order), limit, offset)

    def parse_or(self) -> Any:
        parts = [self.parse_and()]
        while self.keyword("OR"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def parse_and(self) -> Any:
        parts = [self.parse_not()]
        while self.keyword("AND"):
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def parse_not(self) -> Any:
        if self.keyword("NOT"):
            return Not(self.parse_not())
        token = self.peek()
        if token and token.text == "(":
            self.index += 1
            inner = self.parse_or()
            self.expect("punct", ")")
            return inner
        return self.parse_condition()

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise MalformedQuery("expected a value")
        self.index += 1
        if token.kind in ("string", "number", "date", "datetime"):
            return token.value
        if token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if token.kind == "word" and token.text.upper() == "NULL":
            return None
        raise MalformedQuery(f"unexpected value {token.text!r}")

    def parse_condition(self) -> Any:
        field = self.expect("word").text
        if self.keyword("NOT"):
            self.expect_keyword("IN")
            return InList(field, self.value_list(), negate=True)
        if self.keyword("IN"):
            return InList(field, self.value_list(), negate=False)
        if self.keyword("LIKE"):
            pattern = self.value()
            if not isinstance(pattern, str):
                raise MalformedQuery("LIKE needs a string")
            return Like(field, pattern)
        op = self.expect("op").text
        return Compare(field, "!=" if op == "<>" else op, self.value())

    def value_list(self) -> tuple[Any, ...]:
        self.expect("punct", "(")
        values = [self.value()]
        while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
            self.index += 1
            values.append(self.value())
        self.expect("punct", ")")
        return tuple(values)


def parse(text: str) -> Query:
    return _Parser(tokenize(text)).parse()


def map_values(node: Any, convert: Callable[[str, Any], Any]) -> Any:
    """The same condition tree with each literal replaced by `convert(field, literal)`."""
    if node is None:
        return None
    if isinstance(node, BoolOp):
        return replace(node, parts=tuple(map_values(part, convert) for part in node.parts))
    if isinstance(node, Not):
        return replace(node, part=map_values(node.part, convert))
    if isinstance(node, InList):
        return replace(node, values=tuple(convert(node.field, v) for v in node.values))
    if isinstance(node, Like):
        return replace(node, pattern=convert(node.field, node.pattern))
    return replace(node, value=convert(node.field, node.value))


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        # Salesforce compares text case-insensitively; datetimes compare by their UTC text.
        return value.lower().replace("+0000", "z").replace("+00:00", "z").replace(".000z", "z")
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _like(pattern: str) -> re.Pattern[str]:
    regex, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            regex += re.escape(pattern[index + 1])
            index += 2
            continue
        regex += ".*" if char == "%" else "." if char == "_" else re.escape(char)
        index += 1
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL)


def evaluate(node: Any, get: Callable[[str], Any]) -> bool:
    if node is None:
        return True
    if isinstance(node, BoolOp):
        results = (evaluate(part, get) for part in node.parts)
        return all(results) if node.op == "AND" else any(results)
    if isinstance(node, Not):
        return not evaluate(node.part, get)
    if isinstance(node, InList):
        found = _normalise(get(node.field)) in {_normalise(v) for v in node.values}
        return not found if node.negate else found
    if isinstance(node, Like):
        value = get(node.field)
        return value is not None and bool(_like(node.pattern).match(str(value)))
    if isinstance(node, Compare):
        left, right = _normalise(get(node.field)), _normalise(node.value)
        if node.op == "=":
            return left == right
        if node.op == "!=":
            return left != right
        if left is None or right is None:
            return False
        try:
            return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[node.op]
        except TypeError as exc:
            raise MalformedQuery(f"cannot compare {node.field} with {node.value!r}") from exc
    raise MalformedQuery(f"unsupported condition {node!r}")


def fields_in(node: Any) -> list[str]:
    if node is None:
        return []
    if isinstance(node, BoolOp):
        return [f for part in node.parts for f in fields_in(part)]
    if isinstance(node, Not):
        return fields_in(node.part)
    return [node.field]
