"""Where the engine keeps state, on SQLAlchemy Core: the ledger (no personal data) and the activity log.

- `sync_records`: per flow and record key, the Salesforce id, the hash of the last payload sent, the
  status and the last error (masked). This is what makes runs incremental and failures retried.
- `sync_marks`: per flow, the high-water mark on AFAS's modification date.
- `activity_log`: per run and record, what came from AFAS and what was sent, with the outcome. It
  holds personal data and is purged after the retention period.

- `afas_sf_schema`: the schema versions applied, so a newer afas-sf upgrades an existing database in
  place (`SCHEMA_VERSION`, `MIGRATIONS`).

Default: a SQLite file under DAGSTER_HOME; set AFAS_SF_STATE_URL for PostgreSQL in production.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from afas_sf_assets.errors import UsageError
from afas_sf_assets.privacy import mask

if TYPE_CHECKING:
    import pandas as pd

metadata = sa.MetaData()

sync_records = sa.Table(
    "sync_records",
    metadata,
    sa.Column("flow", sa.String(60), primary_key=True),
    sa.Column("record_key", sa.String(255), primary_key=True),
    sa.Column("target_id", sa.String(40)),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(80)),
    sa.Column("error_field", sa.String(255)),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sync_records_status", "flow", "status"),
    # `written_frame` looks records up by Salesforce id across flows (added in schema version 2).
    sa.Index("ix_sync_records_target", "target_id"),
)
sync_marks = sa.Table(
    "sync_marks",
    metadata,
    sa.Column("flow", sa.String(60), primary_key=True),
    sa.Column("high_water", sa.String(40)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
activity_log = sa.Table(
    "activity_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(60), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("target_id", sa.String(40)),
    sa.Column("source", sa.Text),
    sa.Column("sent", sa.Text),
    sa.Column("error", sa.Text),
    sa.Index("ix_activity_flow_key", "flow", "record_key"),
    sa.Index("ix_activity_run", "run_id"),
    sa.Index("ix_activity_at", "at"),
)
schema_versions = sa.Table(
    "afas_sf_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


class RecordStatus(StrEnum):
    SYNCED = "synced"
    FAILED = "failed"  # Salesforce (or a mapping) refused it; retried every run
    QUARANTINED = "quarantined"  # the AFAS row is invalid; retried every run until AFAS fixes it
    WAITING = "waiting"  # something it needs is not in Salesforce yet (a product, a customer)
    REMOVED = "removed"  # gone from AFAS; deactivated in Salesforce
    # Written itself, but not all that hangs off it (images, lines, contacts, links) has arrived yet:
    # the next run finishes its children without writing it again.
    PARTIAL = "partial"


RETRIED = (RecordStatus.FAILED, RecordStatus.QUARANTINED, RecordStatus.WAITING, RecordStatus.PARTIAL)
# The record itself is in Salesforce (a partial one lacks only some of its children).
IN_SALESFORCE = (RecordStatus.SYNCED, RecordStatus.PARTIAL)


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    target_id: str | None
    payload_hash: str | None
    status: RecordStatus
    error_code: str | None = None
    error_field: str | None = None
    error_message: str | None = None
    attempts: int = 0

    @classmethod
    def trouble(
        cls,
        key: str,
        previous: LedgerEntry | None,
        status: RecordStatus,
        code: str | None,
        field: str | None,
        message: str | None,
        *,
        target_id: str | None = None,
        payload_hash: str | None = None,
    ) -> LedgerEntry:
        """A record that did not get through (again): the Salesforce or AFAS id it has kept, its attempts
        counted on from the last entry."""
        return cls(
            key,
            target_id or (previous.target_id if previous else None),
            payload_hash,
            status,
            code,
            field,
            message,
            (previous.attempts if previous else 0) + 1,
        )


@dataclass(frozen=True)
class ActivityEntry:
    run_id: str
    flow: str
    key: str
    action: str  # create | update | deactivate | validate | map | wait
    outcome: str  # created | updated | failed | quarantined | waiting | planned
    target_id: str | None = None
    source: dict[str, Any] | None = None
    sent: dict[str, Any] | None = None
    error: str | None = None
    at: datetime | None = None


def comparison_key(key: str) -> str:
    """A key as Salesforce compares an external id (case-insensitive) and AFAS a code (blanks trimmed)."""
    return key.strip().lower()


def default_state_url() -> str:
    configured = os.environ.get("AFAS_SF_STATE_URL")
    if configured:
        return configured
    home = Path(os.environ.get("DAGSTER_HOME") or Path.home() / ".afas-sf")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'afas_sf_state.sqlite'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _wal(connection: Any, _: Any) -> None:
            # Several Dagster run processes share the file: WAL lets readers and one writer coexist.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=60000")
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    upgrade(engine)
    return engine


# The tables as the first release created them, before versions were recorded, are version 1.
SCHEMA_VERSION = 2


def _index_on_target(conn: sa.Connection) -> None:
    next(i for i in sync_records.indexes if i.name == "ix_sync_records_target").create(conn, checkfirst=True)


# What takes a database from the version before to this one.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {2: _index_on_target}
# Held while a process creates or upgrades the tables, so that code servers, daemon and runs starting at
# once upgrade a PostgreSQL database one at a time (a number of afas-sf's own).
_UPGRADE_LOCK = 0x0AF5_5F00


def schema_version(conn: sa.Connection) -> int:
    """The version a database is at: 0 when it has none of the tables."""
    tables = set(sa.inspect(conn).get_table_names())
    if schema_versions.name in tables:
        return conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar() or 1
    return 1 if sync_records.name in tables else 0


def upgrade(engine: Engine) -> int:
    """Create the tables, or bring an existing database up to this version in place; returns the version
    it was at. A database written by a newer afas-sf is refused rather than written the old way."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            if conn.execute(sa.text("SELECT current_schema()")).scalar() is None:
                path = conn.execute(sa.text("SHOW search_path")).scalar()
                raise UsageError(
                    f"the state database has no schema named in its search_path ({path}): create it "
                    "(CREATE SCHEMA <name> AUTHORIZATION <user>) or change AFAS_SF_STATE_URL"
                )
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        elif conn.dialect.name == "sqlite":
            # The driver begins a transaction only before a data change: take the write lock first.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise UsageError(
                f"the state database is at schema version {found}, newer than this afas-sf knows "
                f"({SCHEMA_VERSION}): upgrade afas-sf, or point AFAS_SF_STATE_URL at another database"
            )
        if found == SCHEMA_VERSION:
            return found
        if found == 0:
            metadata.create_all(conn)
            applied = [SCHEMA_VERSION]
        else:
            schema_versions.create(conn, checkfirst=True)
            applied = list(range(found + 1, SCHEMA_VERSION + 1))
            for version in applied:
                MIGRATIONS[version](conn)
            if found == 1:
                applied.insert(0, 1)
        conn.execute(sa.insert(schema_versions), [{"version": v, "applied_at": _now()} for v in applied])
        return found


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert, or replace the row with the same primary key: one statement per row set, so two writers of
    one key (a retried run and a sensor's, two flows sharing a record) never meet a duplicate-key error."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[conn.dialect.name](table)
    keys = [column.name for column in table.primary_key.columns]
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    )
    conn.execute(statement, rows)


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


class State:
    """The ledger and the activity log of one state database."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_state_url()
        self.engine = make_engine(self.url)

    # -- ledger ---------------------------------------------------------------------------------

    def entries(self, flow: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, LedgerEntry] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(sync_records).where(
                        sync_records.c.flow == flow, sync_records.c.record_key.in_(wanted[start : start + 500])
                    )
                )
                for row in rows:
                    found[row.record_key] = _entry(row)
        return found

    def keys_like(self, flow: str, keys: Iterable[str]) -> dict[str, set[str]]:
        """The ledger's keys equal to `keys` as Salesforce compares external ids (ignoring case and
        surrounding blanks), by that comparison form; removed records no longer count."""
        wanted = list(dict.fromkeys(comparison_key(k) for k in keys))
        compared = sa.func.lower(sa.func.trim(sync_records.c.record_key))
        found: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa.select(sync_records.c.record_key).where(
                        sync_records.c.flow == flow,
                        sync_records.c.status != RecordStatus.REMOVED.value,
                        compared.in_(wanted[start : start + 500]),
                    )
                )
                for (key,) in rows:
                    found.setdefault(comparison_key(key), set()).add(key)
        return found

    def entry(self, flow: str, key: str) -> LedgerEntry | None:
        return self.entries(flow, [key]).get(key)

    def iter_entries(self, flow: str, statuses: Sequence[RecordStatus] | None = None) -> Iterator[LedgerEntry]:
        query = sa.select(sync_records).where(sync_records.c.flow == flow).order_by(sync_records.c.record_key)
        if statuses:
            query = query.where(sync_records.c.status.in_([s.value for s in statuses]))
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield _entry(row)

    def save(self, flow: str, entries: Iterable[LedgerEntry]) -> None:
        """Each entry replaces its key's; of several for one key, the last one given counts."""
        latest = {e.key: e for e in entries}
        rows = [
            {
                "flow": flow,
                "record_key": e.key,
                "target_id": e.target_id,
                "payload_hash": e.payload_hash,
                "status": e.status.value,
                "error_code": e.error_code,
                "error_field": e.error_field,
                "error_message": mask(e.error_message),
                "attempts": e.attempts,
                "updated_at": _now(),
            }
            for e in latest.values()
        ]
        if not rows:
            return
        with self.engine.begin() as conn:
            _upsert(conn, sync_records, rows)

    def ledger_frame(self, flow: str, statuses: Sequence[RecordStatus]) -> pd.DataFrame:
        """A flow's records in these states as one frame: `key`, `target_id`."""
        import pandas as pd

        query = sa.select(sync_records.c.record_key.label("key"), sync_records.c.target_id).where(
            sync_records.c.flow == flow, sync_records.c.status.in_([s.value for s in statuses])
        )
        with self.engine.connect() as conn:
            return pd.read_sql(query, conn)

    def written_frame(self, flow: str) -> pd.DataFrame:
        """When the project last wrote each Salesforce record of a flow, over all flows (stock also writes
        products): `target_id`, `written` (UTC)."""
        import pandas as pd

        of_flow = sa.select(sync_records.c.target_id).where(
            sync_records.c.flow == flow, sync_records.c.target_id.is_not(None)
        )
        query = (
            sa.select(sync_records.c.target_id, sa.func.max(sync_records.c.updated_at).label("written"))
            .where(sync_records.c.target_id.in_(of_flow))
            .group_by(sync_records.c.target_id)
        )
        with self.engine.connect() as conn:
            frame = pd.read_sql(query, conn)
        # SQLite gives the UTC moment without its zone, PostgreSQL with it.
        frame["written"] = pd.to_datetime(frame["written"], utc=True)
        return frame

    def counts(self, flow: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sync_records.c.status, sa.func.count())
                .where(sync_records.c.flow == flow)
                .group_by(sync_records.c.status)
            )
            return {status: count for status, count in rows}

    def mark(self, flow: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sync_marks.c.high_water).where(sync_marks.c.flow == flow)).scalar()

    def set_mark(self, flow: str, value: str | None) -> None:
        with self.engine.begin() as conn:
            _upsert(conn, sync_marks, [{"flow": flow, "high_water": value, "updated_at": _now()}])

    def reset(self, flow: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(sync_records).where(sync_records.c.flow == flow))
            conn.execute(sa.delete(sync_marks).where(sync_marks.c.flow == flow))

    # -- activity log -----------------------------------------------------------------------------

    def log(self, entries: Iterable[ActivityEntry]) -> None:
        rows = [
            {
                "run_id": e.run_id,
                "flow": e.flow,
                "record_key": e.key,
                "at": e.at or _now(),
                "action": e.action,
                "outcome": e.outcome,
                "target_id": e.target_id,
                "source": _json(e.source),
                "sent": _json(e.sent),
                "error": e.error,
            }
            for e in entries
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(activity_log), rows)

    def activity(
        self,
        *,
        flow: str | None = None,
        key: str | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[ActivityEntry]:
        query = sa.select(activity_log).order_by(activity_log.c.id.desc()).limit(limit)
        for column, value in (
            (activity_log.c.flow, flow),
            (activity_log.c.record_key, key),
            (activity_log.c.run_id, run_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(activity_log.c.at >= since)
        with self.engine.connect() as conn:
            return [
                ActivityEntry(
                    run_id=row.run_id,
                    flow=row.flow,
                    key=row.record_key,
                    action=row.action,
                    outcome=row.outcome,
                    target_id=row.target_id,
                    source=json.loads(row.source) if row.source else None,
                    sent=json.loads(row.sent) if row.sent else None,
                    error=row.error,
                    at=row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                )
                for row in conn.execute(query)
            ]

    def purge_activity(self, retention_days: float, *, now: datetime | None = None) -> int:
        """Delete activity older than the retention period; returns how many entries went."""
        cutoff = (now or _now()) - timedelta(days=retention_days)
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(activity_log).where(activity_log.c.at < cutoff)).rowcount


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        key=row.record_key,
        target_id=row.target_id,
        payload_hash=row.payload_hash,
        status=RecordStatus(row.status),
        error_code=row.error_code,
        error_field=row.error_field,
        error_message=row.error_message,
        attempts=row.attempts,
    )
