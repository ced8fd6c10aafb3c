"""The ledger, the activity log and their schema versions, on SQLite and on a real PostgreSQL server (when one
is given)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from afas_sf_assets.errors import UsageError
from afas_sf_assets.sync.state import (
    SCHEMA_VERSION,
    ActivityEntry,
    LedgerEntry,
    RecordStatus,
    State,
    activity_log,
    metadata,
    schema_version,
    schema_versions,
    sync_marks,
    sync_records,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_ledger_round_trip_and_masked_errors(state_url: str) -> None:
    state = State(state_url)
    state.save(
        "customers",
        [
            LedgerEntry("10001", "001A", "h1", RecordStatus.SYNCED),
            LedgerEntry(
                "10002",
                None,
                None,
                RecordStatus.FAILED,
                "INVALID_EMAIL_ADDRESS",
                "Email",
                "Email: invalid email address: jan.jansen@bakker.nl",
            ),
        ],
    )
    entries = state.entries("customers", ["10001", "10002", "10003"])
    assert set(entries) == {"10001", "10002"}
    assert entries["10002"].error_message == "Email: invalid email address: j***@b***.nl"
    assert [e.key for e in state.iter_entries("customers", [RecordStatus.FAILED])] == ["10002"]
    assert state.counts("customers") == {"synced": 1, "failed": 1}
    state.save("customers", [LedgerEntry("10002", "001B", "h2", RecordStatus.SYNCED)])
    assert state.counts("customers") == {"synced": 2}
    state.set_mark("customers", "2026-11-28T10:00:00+01:00")
    assert state.mark("customers") == "2026-11-28T10:00:00+01:00"


def test_purge_keeps_recent_activity_and_removes_old(state_url: str) -> None:
    state = State(state_url)
    now = datetime.now(UTC)
    state.log(
        [
            ActivityEntry(
                "r1", "customers", "10001", "create", "created", source={"Email": "a@b.nl"}, at=now - timedelta(days=20)
            ),
            ActivityEntry(
                "r2", "customers", "10001", "update", "updated", source={"Email": "a@b.nl"}, at=now - timedelta(days=2)
            ),
        ]
    )
    assert state.purge_activity(14) == 1
    (left,) = state.activity(flow="customers")
    assert left.run_id == "r2" and left.source == {"Email": "a@b.nl"}


def _write_repeatedly(url: str, writer: str, rounds: int) -> None:
    state = State(url)
    for number in range(rounds):
        state.save(
            "products",
            [LedgerEntry(f"ART-{k:05d}", None, f"{writer}-{number}", RecordStatus.SYNCED) for k in range(2_000)],
        )
        state.set_mark("products", f"{writer}-{number}")


def test_two_writers_of_the_same_keys_at_once_leave_one_row_per_key(state_url: str) -> None:
    """A retried run and a sensor's run, or two flows sharing records: no duplicate-key error, one row each."""
    State(state_url)  # the tables exist before both writers start
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_repeatedly, args=(state_url, name, 5)) for name in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    state = State(state_url)
    entries = list(state.iter_entries("products"))
    assert len(entries) == 2_000 and len({e.key for e in entries}) == 2_000
    assert {e.payload_hash for e in entries} <= {"a-4", "b-4"}, "each key holds one writer's last save whole"
    assert state.mark("products") in ("a-4", "b-4")


def _open(url: str) -> int:
    return State(url).counts("products").get("synced", 0)


def test_a_database_of_the_first_release_is_upgraded_in_place(state_url: str) -> None:
    # The first release created these three tables and no version table.
    engine = sa.create_engine(state_url)
    first_release = [sync_records, sync_marks, activity_log]
    metadata.create_all(engine, tables=first_release)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_sync_records_target"))
        conn.execute(
            sa.insert(sync_records),
            [{"flow": "products", "record_key": "A1", "target_id": "01tA", "status": "synced", "updated_at": NOW}],
        )
        assert schema_version(conn) == 1

    state = State(state_url)

    with state.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert "ix_sync_records_target" in {i["name"] for i in sa.inspect(conn).get_indexes("sync_records")}
        applied = conn.execute(sa.select(schema_versions.c.version).order_by(schema_versions.c.version)).scalars()
        assert list(applied) == list(range(1, SCHEMA_VERSION + 1))
    assert state.entry("products", "A1") == LedgerEntry("A1", "01tA", None, RecordStatus.SYNCED)
    assert State(state_url).counts("products") == {"synced": 1}, "an upgraded database is left as it is"
    engine.dispose()


def test_processes_starting_at_once_on_a_new_database_create_it_once(state_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        assert pool.map(_open, [state_url] * 6) == [0] * 6
    with State(state_url).engine.connect() as conn:
        assert conn.execute(sa.select(schema_versions.c.version)).scalars().all() == [SCHEMA_VERSION]


def test_a_database_from_a_newer_release_is_refused(state_url: str) -> None:
    State(state_url)
    engine = sa.create_engine(state_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema_versions), [{"version": SCHEMA_VERSION + 1, "applied_at": NOW}])
    engine.dispose()
    with pytest.raises(UsageError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this afas-sf"):
        State(state_url)


def test_a_postgresql_schema_that_does_not_exist_is_named_with_the_fix(postgres_url: str) -> None:
    url = sa.make_url(postgres_url).update_query_dict({"options": "-csearch_path=no_such_tenant"})
    with pytest.raises(UsageError, match=r"no schema named in its search_path \(no_such_tenant\): create it"):
        State(url.render_as_string(hide_password=False))
