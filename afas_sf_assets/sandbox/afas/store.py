"""The AFAS sandbox's state: one SQLite table per GetConnector, rows kept as AFAS returns them.

SQLite in WAL mode lets the server and test processes read and write the same directory at once.
Filters are translated to SQL over `json_extract`, with an index on each key field so keyset pages
cost the same deep into a 100,000-row table.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, FieldType, GetConnectorSpec, spec_from_plain
from afas_sf_assets.afas.dates import AMSTERDAM, format_row_datetime
from afas_sf_assets.afas.filters import Condition, Operator


class ConnectorFieldNotFound(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(f"Connector field '{field}' not found")


class FilterValueInvalid(Exception):
    pass


# Fields the sandbox itself looks rows up by (ImageConnector, and the order flows' filters).
LOOKUP_INDEXES = {"AfasSf_Items": ("ImageId",), "AfasSf_Debtors": ("Email",), "AfasSf_SalesDocuments": ("Reference",)}


LEARNED = "learned_connectors"


def _table(connector: str) -> str:
    return f'"c_{connector}"'


def _column(spec: GetConnectorSpec, field: str) -> tuple[str, FieldType]:
    definition = spec.field(field)
    if definition is None:
        raise ConnectorFieldNotFound(field)
    expression = f"json_extract(data, '$.{field}')"
    if definition.data_type is FieldType.DATE:
        # Rows hold `…Z`; filter values come without it: compare the first 19 characters.
        expression = f"substr({expression}, 1, 19)"
    return expression, definition.data_type


def _coerce(value: str, data_type: FieldType, field: str) -> Any:
    try:
        if data_type is FieldType.INT:
            return int(value)
        if data_type is FieldType.DECIMAL:
            return float(value)
        if data_type is FieldType.BOOLEAN:
            lowered = value.strip().lower()
            if lowered not in {"true", "false", "1", "0"}:
                raise ValueError(value)
            return 1 if lowered in {"true", "1"} else 0
        if data_type is FieldType.DATE:
            text = value.strip().removesuffix("Z")
            return text if "T" in text else f"{text}T00:00:00"
    except ValueError as exc:
        raise FilterValueInvalid(f"Value '{value}' is not valid for field '{field}'") from exc
    return value


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_COMPARISON = {
    Operator.EQ: "=",
    Operator.GE: ">=",
    Operator.LE: "<=",
    Operator.GT: ">",
    Operator.LT: "<",
    Operator.NE: "!=",
}
_LIKE = {
    Operator.CONTAINS: ("%{}%", False),
    Operator.NOT_CONTAINS: ("%{}%", True),
    Operator.STARTS_WITH: ("{}%", False),
    Operator.NOT_STARTS_WITH: ("{}%", True),
    Operator.ENDS_WITH: ("%{}", False),
    Operator.NOT_ENDS_WITH: ("%{}", True),
    Operator.QUICK_FILTER: ("%{}%", False),
}


def condition_sql(spec: GetConnectorSpec, cond: Condition) -> tuple[str, list[Any]]:
    expression, data_type = _column(spec, cond.field)
    raw = cond.value if isinstance(cond.value, str) else cond.wire_value
    if cond.operator is Operator.EMPTY:
        return f"({expression} IS NULL OR {expression} = '')", []
    if cond.operator is Operator.NOT_EMPTY:
        return f"({expression} IS NOT NULL AND {expression} != '')", []
    if cond.operator in _LIKE:
        pattern, negate = _LIKE[cond.operator]
        sql = f"coalesce({expression}, '') {'NOT ' if negate else ''}LIKE ? ESCAPE '\\'"
        return sql, [pattern.format(_like_escape(raw))]
    value = _coerce(raw, data_type, cond.field)
    collate = " COLLATE NOCASE" if data_type is FieldType.STRING else ""
    if cond.operator is Operator.NE:
        return f"({expression} IS NULL OR {expression}{collate} != ?)", [value]
    return f"{expression}{collate} {_COMPARISON[cond.operator]} ?", [value]


@dataclass(frozen=True)
class Query:
    groups: Sequence[Sequence[Condition]]
    order_by: Sequence[tuple[str, bool]]  # (field, descending)
    skip: int
    take: int | None  # None: everything


class AfasStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        # The GetConnectors it serves: the project's set, and those of the user's own it was taught.
        self.specs: dict[str, GetConnectorSpec] = dict(CONNECTOR_SET)
        for plain in self.get_meta(LEARNED, []):
            self.specs[plain["id"]] = spec_from_plain(plain["id"], plain)
        for spec in self.specs.values():
            self._create(spec)

    def _create(self, spec: GetConnectorSpec) -> None:
        conn = self._conn()
        conn.execute(f"CREATE TABLE IF NOT EXISTS {_table(spec.id)} (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
        indexed = {*spec.key, *([spec.modified_field] if spec.modified_field else [])}
        for field in indexed | set(LOOKUP_INDEXES.get(spec.id, ())):
            expression, data_type = _column(spec, field)
            collate = " COLLATE NOCASE" if data_type is FieldType.STRING else ""
            conn.execute(
                f'CREATE INDEX IF NOT EXISTS "ix_{spec.id}_{field}" ON {_table(spec.id)} ({expression}{collate})'
            )

    def learn(self, spec: GetConnectorSpec) -> None:
        """Serve a GetConnector of the user's own from now on, across restarts."""
        self.specs[spec.id] = spec
        self._create(spec)
        learned = [p for p in self.get_meta(LEARNED, []) if p["id"] != spec.id]
        self.set_meta(LEARNED, [*learned, spec.as_plain()])

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    # -- rows -------------------------------------------------------------------------------

    @staticmethod
    def row_key(spec: GetConnectorSpec, row: dict[str, Any]) -> str:
        return json.dumps([row.get(field) for field in spec.key])

    def upsert_rows(self, connector: str, rows: Iterable[dict[str, Any]], *, touch: bool = True) -> int:
        """Insert or merge rows; `touch` sets the modification date to now, as AFAS does on every change,
        whatever date the row carries (without `touch` a row keeps the date it brings)."""
        spec = self.specs[connector]
        now = format_row_datetime(datetime.now(AMSTERDAM))
        conn = self._conn()
        count = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                key = self.row_key(spec, row)
                current = conn.execute(f"SELECT data FROM {_table(connector)} WHERE key = ?", (key,)).fetchone()
                merged = {field: None for field in spec.field_ids}
                if current:
                    merged.update(json.loads(current[0]))
                merged.update({k: v for k, v in row.items() if k in merged})
                if touch and spec.modified_field:
                    merged[spec.modified_field] = now
                conn.execute(
                    f"INSERT INTO {_table(connector)} (key, data) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET data = excluded.data",
                    (key, json.dumps(merged)),
                )
                count += 1
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count

    def delete_rows(self, connector: str, where: dict[str, Any]) -> int:
        spec = self.specs[connector]
        clauses, params = [], []
        for field, value in where.items():
            expression, _ = _column(spec, field)
            clauses.append(f"{expression} = ?")
            params.append(value)
        sql = f"DELETE FROM {_table(connector)}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return self._conn().execute(sql, params).rowcount

    def query(self, connector: str, query: Query) -> list[dict[str, Any]]:
        spec = self.specs[connector]
        sql = f"SELECT data FROM {_table(connector)}"
        params: list[Any] = []
        if query.groups:
            ors = []
            for group in query.groups:
                ands = []
                for cond in group:
                    clause, values = condition_sql(spec, cond)
                    ands.append(clause)
                    params.extend(values)
                ors.append("(" + " AND ".join(ands) + ")")
            sql += " WHERE " + " OR ".join(ors)
        order = []
        for field, descending in query.order_by:
            expression, data_type = _column(spec, field)
            collate = " COLLATE NOCASE" if data_type is FieldType.STRING else ""
            order.append(f"{expression}{collate} {'DESC' if descending else 'ASC'}")
        # Without a full-key order AFAS's order is undefined; the row key keeps ours stable. When the
        # order already covers the key the tie-break is left out, so SQLite can walk the key index.
        if not set(spec.key) <= {field for field, _ in query.order_by}:
            order.append("key ASC")
        sql += " ORDER BY " + ", ".join(order)
        if query.take is not None:
            sql += " LIMIT ? OFFSET ?"
            params.extend([query.take, max(query.skip, 0)])
        return [json.loads(data) for (data,) in self._conn().execute(sql, params)]

    def get(self, connector: str, **key: Any) -> dict[str, Any] | None:
        spec = self.specs[connector]
        row = (
            self._conn()
            .execute(f"SELECT data FROM {_table(connector)} WHERE key = ?", (self.row_key(spec, key),))
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def query_lines(self, document_type: str, document_number: str) -> list[dict[str, Any]]:
        conditions = [
            Condition("DocumentType", Operator.EQ, document_type),
            Condition("DocumentNumber", Operator.EQ, document_number),
        ]
        return self.query("AfasSf_SalesDocumentLines", Query([conditions], [("LineNumber", False)], 0, None))

    def iter_all(self, connector: str) -> Iterator[dict[str, Any]]:
        for (data,) in self._conn().execute(f"SELECT data FROM {_table(connector)} ORDER BY key"):
            yield json.loads(data)

    def count(self, connector: str) -> int:
        return self._conn().execute(f"SELECT count(*) FROM {_table(connector)}").fetchone()[0]

    # -- meta: settings, knobs, counters ------------------------------------------------------

    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self._conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, name: str, value: Any) -> None:
        self._conn().execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )

    def next_number(self, name: str, start: int) -> int:
        return (
            self._conn()
            .execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                (name, start),
            )
            .fetchone()[0]
        )

    def increment(self, name: str) -> None:
        self.next_number(name, 1)

    def counters(self, prefix: str) -> dict[str, int]:
        rows = self._conn().execute("SELECT name, value FROM counters WHERE name LIKE ?", (prefix + "%",))
        return {name[len(prefix) :]: value for name, value in rows}

    def reset_counters(self, prefix: str) -> None:
        self._conn().execute("DELETE FROM counters WHERE name LIKE ?", (prefix + "%",))
