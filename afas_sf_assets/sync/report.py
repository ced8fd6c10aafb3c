"""What a flow run did: counts, API calls, and the first failures — with personal data masked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from afas_sf_assets.privacy import mask

MAX_FAILURES_KEPT = 50


class _Usage(Protocol):
    used: int
    limit: int


class _Counted(Protocol):
    @property
    def calls(self) -> int: ...


class _CountedSalesforce(_Counted, Protocol):
    @property
    def api_usage(self) -> _Usage | None: ...


@dataclass(frozen=True)
class Failure:
    key: str
    outcome: str  # failed | quarantined | waiting | partial | warning
    code: str
    field: str | None
    message: str


@dataclass
class FlowReport:
    flow: str
    run_id: str
    dry_run: bool = False
    full: bool = False
    status: str = "ok"  # ok | skipped | stopped_budget
    note: str | None = None
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    quarantined: int = 0
    waiting: int = 0
    partial: int = 0  # written, but a child (image, line, contact, link) did not arrive; finished next run
    deactivated: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    afas_calls: int = 0
    salesforce_calls: int = 0
    api_used: int | None = None
    api_limit: int | None = None
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    def add_failure(self, failure: Failure) -> None:
        if failure.outcome == "warning":
            self.count("warnings")
        elif failure.outcome == "failed":
            self.failed += 1
        elif failure.outcome == "quarantined":
            self.quarantined += 1
        elif failure.outcome == "partial":
            self.partial += 1
        else:
            self.waiting += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(
                Failure(failure.key, failure.outcome, failure.code, failure.field, mask(failure.message) or "")
            )

    def count(self, name: str, amount: int = 1) -> None:
        self.extra[name] = self.extra.get(name, 0) + amount

    @property
    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "quarantined": self.quarantined,
            "waiting": self.waiting,
            "partial": self.partial,
            "deactivated": self.deactivated,
            **self.extra,
        }

    def summary_line(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in self.counts.items() if v or k in ("read", "created", "updated"))
        prefix = "[dry run] " if self.dry_run else ""
        status = "" if self.status == "ok" else f" ({self.status}{': ' + self.note if self.note else ''})"
        return (
            f"{prefix}{self.flow:<18} {counts} afas_calls={self.afas_calls} sf_calls={self.salesforce_calls}"
            f" {self.seconds:.1f}s{status}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "run_id": self.run_id,
            "status": self.status,
            "note": self.note,
            "dry_run": self.dry_run,
            "full": self.full,
            **self.counts,
            "afas_calls": self.afas_calls,
            "salesforce_calls": self.salesforce_calls,
            "api_used": self.api_used,
            "api_limit": self.api_limit,
            "seconds": round(self.seconds, 2),
            "failures": [f.__dict__ for f in self.failures],
        }


@contextmanager
def measured(report: FlowReport, afas: _Counted, salesforce: _CountedSalesforce) -> Iterator[FlowReport]:
    """The report gets the calls the run spent on each side, the API usage left and its time, however the
    run ends."""
    started = time.monotonic()
    afas_calls, sf_calls = afas.calls, salesforce.calls
    try:
        yield report
    finally:
        report.afas_calls = afas.calls - afas_calls
        report.salesforce_calls = salesforce.calls - sf_calls
        usage = salesforce.api_usage
        if usage:
            report.api_used, report.api_limit = usage.used, usage.limit
        report.seconds = time.monotonic() - started
