"""The ledger and the activity log, on SQLite and on a real PostgreSQL server (when one is given)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

from afas_sf_assets.sync.state import ActivityEntry, LedgerEntry, RecordStatus, State


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
