"""The Salesforce sandbox's state in SQLite: records, unique values, sessions, bulk jobs, knobs.

All writes go through one lock and one transaction per request, so sObject Collections with
`allOrNone` can roll back, and unique values are checked and claimed atomically.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHILD_LINKS = (("OrderItem", "OrderId"), ("ShipmentItem", "ShipmentId"))


class SfStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.lock = threading.RLock()
        conn = self.conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript("""
            CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, sobject TEXT NOT NULL, data TEXT NOT NULL,
                                                deleted INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_records_sobject ON records (sobject, seq);
            CREATE TABLE IF NOT EXISTS unique_values (sobject TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,
                                                      id TEXT NOT NULL, PRIMARY KEY (sobject, field, value));
            CREATE INDEX IF NOT EXISTS ix_unique_values_id ON unique_values (id);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, issued REAL NOT NULL, username TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, info TEXT NOT NULL, data TEXT NOT NULL DEFAULT '',
                                             results TEXT NOT NULL DEFAULT '{}');
        """)
        # A master-detail child is found by its parent through an index, as in Salesforce, not by reading
        # every child: an order's products are read for each product written.
        for sobject, field in CHILD_LINKS:
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS ix_{sobject}_{field} ON records (sobject, json_extract(data, '$.{field}'))"
            )

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """A write outside a transaction. All writers of this process take the one lock, so a long bulk job
        and the requests beside it take turns instead of meeting SQLite's busy timeout."""
        with self.lock:
            return self.conn().execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; nested inside another (composite subrequests) it becomes a savepoint."""
        with self.lock:
            conn = self.conn()
            if conn.in_transaction:
                with self.savepoint():
                    yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        conn = self.conn()
        conn.execute("SAVEPOINT record")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO record")
            conn.execute("RELEASE record")
            raise
        conn.execute("RELEASE record")

    # -- records --------------------------------------------------------------------------------

    def get(self, record_id: str, *, include_deleted: bool = False) -> tuple[str, dict[str, Any]] | None:
        row = self.conn().execute("SELECT sobject, data, deleted FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None or (row[2] and not include_deleted):
            return None
        return row[0], json.loads(row[1])

    def get_with_flag(self, record_id: str) -> tuple[str, dict[str, Any], bool] | None:
        """Object, record and whether it is deleted (queryAll sees deleted records too)."""
        row = self.conn().execute("SELECT sobject, data, deleted FROM records WHERE id = ?", (record_id,)).fetchone()
        return (row[0], json.loads(row[1]), bool(row[2])) if row else None

    def put(self, record_id: str, sobject: str, data: dict[str, Any]) -> None:
        seq = self.next_number("record_seq", 1)
        self.conn().execute(
            "INSERT INTO records (id, sobject, data, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
            (record_id, sobject, json.dumps(data), seq),
        )

    def mark_deleted(self, record_id: str) -> None:
        self.conn().execute("UPDATE records SET deleted = 1 WHERE id = ?", (record_id,))
        self.conn().execute("DELETE FROM unique_values WHERE id = ?", (record_id,))

    def children(self, sobject: str, field: str, parent_id: str) -> list[dict[str, Any]]:
        """The live records of `sobject` whose `field` holds `parent_id` (one of CHILD_LINKS)."""
        assert (sobject, field) in CHILD_LINKS, (sobject, field)
        rows = self.conn().execute(
            f"SELECT data FROM records WHERE sobject = ? AND json_extract(data, '$.{field}') = ? AND deleted = 0 "
            "ORDER BY seq",
            (sobject, parent_id),
        )
        return [json.loads(data) for (data,) in rows]

    def iter_records(self, sobject: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        sql = "SELECT data, deleted FROM records WHERE sobject = ?" + ("" if include_deleted else " AND deleted = 0")
        for data, deleted in self.conn().execute(sql + " ORDER BY seq", (sobject,)):
            record = json.loads(data)
            record["IsDeleted"] = bool(deleted)
            yield record

    def count(self, sobject: str) -> int:
        return (
            self.conn()
            .execute("SELECT count(*) FROM records WHERE sobject = ? AND deleted = 0", (sobject,))
            .fetchone()[0]
        )

    # -- unique values ----------------------------------------------------------------------------

    def find_unique(self, sobject: str, field: str, value: str) -> str | None:
        row = (
            self.conn()
            .execute(
                "SELECT id FROM unique_values WHERE sobject = ? AND field = ? AND value = ?",
                (sobject, field, value.lower()),
            )
            .fetchone()
        )
        return row[0] if row else None

    def claim_unique(self, sobject: str, field: str, value: str | None, record_id: str) -> None:
        self.conn().execute(
            "DELETE FROM unique_values WHERE sobject = ? AND field = ? AND id = ?", (sobject, field, record_id)
        )
        if value not in (None, ""):
            self.conn().execute(
                "INSERT INTO unique_values (sobject, field, value, id) VALUES (?, ?, ?, ?)",
                (sobject, field, str(value).lower(), record_id),
            )

    # -- meta and counters -------------------------------------------------------------------------

    def get_meta(self, name: str, default: Any = None) -> Any:
        row = self.conn().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, name: str, value: Any) -> None:
        self.write(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )

    def next_number(self, name: str, start: int) -> int:
        with self.lock:  # the returned row is read before the write ends
            return int(
                self.write(
                    "INSERT INTO counters (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                    (name, start),
                ).fetchone()[0]
            )

    def counter(self, name: str) -> int:
        row = self.conn().execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return row[0] if row else 0

    def set_counter(self, name: str, value: int) -> None:
        self.write(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def counters(self, prefix: str) -> dict[str, int]:
        rows = self.conn().execute("SELECT name, value FROM counters WHERE name LIKE ?", (prefix + "%",))
        return {name[len(prefix) :]: value for name, value in rows}

    def reset_counters(self, prefix: str) -> None:
        self.write("DELETE FROM counters WHERE name LIKE ?", (prefix + "%",))

    # -- sessions ---------------------------------------------------------------------------------

    def add_session(self, token: str, issued: float, username: str) -> None:
        self.write("INSERT INTO sessions (token, issued, username) VALUES (?, ?, ?)", (token, issued, username))

    def session_issued(self, token: str) -> float | None:
        row = self.conn().execute("SELECT issued FROM sessions WHERE token = ?", (token,)).fetchone()
        return row[0] if row else None

    def expire_sessions(self) -> None:
        self.write("DELETE FROM sessions")

    # -- bulk jobs --------------------------------------------------------------------------------

    def save_job(self, job_id: str, info: dict[str, Any]) -> None:
        self.write(
            "INSERT INTO jobs (id, info) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET info = excluded.info",
            (job_id, json.dumps(info)),
        )

    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self.conn().execute("SELECT info FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def jobs(self) -> list[dict[str, Any]]:
        return [json.loads(info) for (info,) in self.conn().execute("SELECT info FROM jobs ORDER BY rowid")]

    def append_job_data(self, job_id: str, data: str) -> None:
        self.write("UPDATE jobs SET data = data || ? WHERE id = ?", (data, job_id))

    def job_data(self, job_id: str) -> str:
        return self.conn().execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]

    def save_job_results(self, job_id: str, results: dict[str, str]) -> None:
        self.write("UPDATE jobs SET results = ? WHERE id = ?", (json.dumps(results), job_id))

    def job_results(self, job_id: str) -> dict[str, str]:
        return json.loads(self.conn().execute("SELECT results FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])

    def delete_job(self, job_id: str) -> None:
        self.write("DELETE FROM jobs WHERE id = ?", (job_id,))
