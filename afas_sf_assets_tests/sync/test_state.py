from datetime import UTC, datetime, timedelta
from pathlib import Path

from afas_sf_assets.sync.state import ActivityEntry, LedgerEntry, RecordStatus, State


def test_ledger_round_trip_and_masked_errors(tmp_path: Path) -> None:
    state = State(f"sqlite:///{tmp_path / 'state.sqlite'}")
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


def test_purge_keeps_recent_activity_and_removes_old(tmp_path: Path) -> None:
    state = State(f"sqlite:///{tmp_path / 'state.sqlite'}")
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
