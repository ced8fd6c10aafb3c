"""One Bulk API 2.0 upsert job that may be fed over a whole run, with memory that does not grow with it.

Rows go to a CSV file on disk as they come (`add`); a job takes one upload, so the file is sent once, when
the caller is done (`run`): create, upload (streamed from the file), close, then polls that start at
`SF_BULK_POLL_SECONDS` and double up to a minute, until the job ends or `SF_BULK_TIMEOUT_SECONDS` passes
(then the job is aborted). The result lists the job's counts say are not empty are streamed to disk and
indexed by external id in a small SQLite file, so `outcomes` answers a batch's keys without holding the
job's results in memory.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simple_salesforce import Salesforce
from simple_salesforce.util import call_salesforce

from afas_sf_assets.salesforce.errors import (
    SalesforceBulkJobError,
    SalesforceError,
    SalesforceRequestError,
    SfErrorDetail,
)
from afas_sf_assets.salesforce.records import UpsertOutcome, dotted

if TYPE_CHECKING:
    from afas_sf_assets.salesforce.client import SalesforceClient

# In a Bulk 2.0 CSV an empty cell leaves a field as it is; this clears it, as JSON null does.
BULK_NULL = "#N/A"
POLL_CAP_SECONDS = 60.0
_RESULT_LISTS = ("successfulResults", "failedResults", "unprocessedrecords")


class BulkUpsertJob:
    """An upsert of one object on one external id, as one Bulk API 2.0 job."""

    def __init__(
        self, client: SalesforceClient, sobject: str, field: str, directory: Path, columns: Sequence[str]
    ) -> None:
        self.client, self.sobject, self.field = client, sobject, field
        self.columns = list(dict.fromkeys([field, *columns]))
        self.csv_path = directory / f"{sobject}.{id(self)}.csv"
        self.index_path = directory / f"{sobject}.{id(self)}.results.sqlite"
        self.rows = 0
        self.job_id: str | None = None
        with self.csv_path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerow(self.columns)

    @staticmethod
    def columns_of(records: Iterable[Mapping[str, Any]]) -> list[str]:
        return list(dict.fromkeys(key for record in records for key in dotted(record)))

    def covers(self, columns: Iterable[str]) -> bool:
        """Whether rows with these columns fit this job's header (a job's columns are fixed at its start)."""
        return set(columns) <= set(self.columns)

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        with self.csv_path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            for record in records:
                flat = dotted(record)
                writer.writerow([bulk_cell(flat, column) for column in self.columns])
        self.rows += len(records)

    def run(self, on_created: Callable[[str], None] | None = None) -> None:
        """Send the rows as one job and index its results; raises SalesforceBulkJobError if the job fails.
        `on_created` learns the job's id before any row is sent (so a killed run's job can be found)."""
        created = self.client.call(
            lambda sf: sf.restful(
                "jobs/ingest",
                method="POST",
                json={
                    "object": self.sobject,
                    "operation": "upsert",
                    "externalIdFieldName": self.field,
                    "contentType": "CSV",
                    "columnDelimiter": "COMMA",
                    "lineEnding": "LF",
                },
            ),
            what=f"bulk job for {self.sobject}",
        )
        self.job_id = job_id = str(created["id"])
        if on_created:
            on_created(job_id)
        try:
            # Not retried: a repeated upload to the same job is refused, and a new job would redo the work.
            self.client.call(self._upload, what="bulk upload", idempotent=False)
            set_state(self.client, job_id, "UploadComplete")
            job = self._wait()
        except BaseException:
            self._abort()
            raise
        self._index(job)
        self.csv_path.unlink(missing_ok=True)

    def outcomes(self, keys: Sequence[str]) -> list[UpsertOutcome]:
        """The outcome of each key (as sent), in order."""
        found: dict[str, UpsertOutcome] = {}
        with closing(sqlite3.connect(self.index_path)) as db:
            columns = "key, external_id, record_id, created, code, message, fields"
            for key, external_id, record_id, created, code, message, fields in select_in(
                db, f"SELECT {columns} FROM outcome WHERE key IN", (k.lower() for k in keys)
            ):
                errors = (SfErrorDetail(code, message, tuple(f for f in fields.split(",") if f)),) if code else ()
                created_flag = None if created is None else bool(created)
                found[key] = UpsertOutcome(external_id, id=record_id, created=created_flag, errors=errors)
        missing = [k for k in keys if k.lower() not in found]
        if missing:
            raise SalesforceBulkJobError(
                f"Bulk upsert of {self.sobject} returned no result for {self.field} {missing[0]}", job_id=self.job_id
            )
        return [found[k.lower()] for k in keys]

    # -- the wire ---------------------------------------------------------------------------------

    def _url(self, sf: Salesforce, suffix: str = "") -> str:
        return f"{sf.base_url}jobs/ingest/{self.job_id}{suffix}"

    def _upload(self, sf: Salesforce) -> None:
        with self.csv_path.open("rb") as body:
            call_salesforce(
                url=self._url(sf, "/batches"),
                method="PUT",
                session=sf.session,
                headers={**sf.headers, "Content-Type": "text/csv", "Accept": "application/json"},
                data=body,
            )

    def _abort(self) -> None:
        # The job's own failure is what the caller needs to see, not a failed abort.
        with suppress(Exception):
            set_state(self.client, str(self.job_id), "Aborted")

    def _wait(self) -> dict[str, Any]:
        assert self.job_id is not None
        job = wait_for(self.client, self.job_id)
        if job.get("state") != "JobComplete":
            raise SalesforceBulkJobError(
                f"Bulk job {self.job_id} for {self.sobject} {str(job.get('state')).lower()}: "
                f"{job.get('errorMessage') or ''}",
                job_id=self.job_id,
            )
        return job

    def _index(self, job: Mapping[str, Any]) -> None:
        processed, failed = int(job.get("numberRecordsProcessed") or 0), int(job.get("numberRecordsFailed") or 0)
        # A result list the job's counts say is empty is not read: one call instead of three, mostly.
        due = {
            "successfulResults": processed > failed,
            "failedResults": failed > 0,
            "unprocessedrecords": processed < self.rows,
        }
        with closing(sqlite3.connect(self.index_path)) as db:
            db.execute(
                "CREATE TABLE outcome (key TEXT PRIMARY KEY, external_id TEXT, record_id TEXT, created INTEGER, "
                "code TEXT, message TEXT, fields TEXT)"
            )
            for kind in _RESULT_LISTS:
                if not due[kind]:
                    continue
                path = self.index_path.with_suffix(f".{kind}.csv")
                self.client.call(lambda sf, k=kind, p=path: self._download(sf, k, p), what="bulk results")
                with path.open(newline="", encoding="utf-8") as handle:
                    db.executemany(
                        "INSERT OR REPLACE INTO outcome VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (self._outcome_row(kind, row) for row in csv.DictReader(handle)),
                    )
                path.unlink(missing_ok=True)
            db.commit()

    def _download(self, sf: Salesforce, kind: str, path: Path) -> None:
        response = call_salesforce(
            url=self._url(sf, f"/{kind}"),
            method="GET",
            session=sf.session,
            headers={**sf.headers, "Accept": "text/csv"},
            stream=True,
        )
        with closing(response), path.open("wb") as handle:
            for chunk in response.iter_content(chunk_size=1 << 16):
                handle.write(chunk)

    def _outcome_row(self, kind: str, row: Mapping[str, str]) -> tuple[Any, ...]:
        external_id = row[self.field]
        if kind == "successfulResults":
            created = row["sf__Created"].lower() == "true"
            return (external_id.lower(), external_id, row["sf__Id"] or None, int(created), None, None, "")
        if kind == "failedResults":
            error = bulk_error(row["sf__Error"])
            return (external_id.lower(), external_id, None, None, error.code, error.message, ",".join(error.fields))
        message = f"Bulk job {self.job_id} did not process this record"
        return (external_id.lower(), external_id, None, None, "UNPROCESSED", message, "")


def job_state(client: SalesforceClient, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = client.call(lambda sf: sf.restful(f"jobs/ingest/{job_id}"), what="bulk job state")
    return job


def set_state(client: SalesforceClient, job_id: str, state: str) -> None:
    client.call(
        lambda sf: sf.restful(f"jobs/ingest/{job_id}", method="PATCH", json={"state": state}),
        what=f"bulk job {state}",
    )


def select_in(db: sqlite3.Connection, query: str, keys: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """The rows of `query` (ending in `… IN`) for these keys, 500 at a time: below SQLite's limit on a
    statement's parameters."""
    wanted = list(dict.fromkeys(keys))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        yield from db.execute(f"{query} ({','.join('?' * len(chunk))})", chunk)


def wait_for(client: SalesforceClient, job_id: str) -> dict[str, Any]:
    """The job once it has ended (JobComplete, Failed or Aborted): polled from `SF_BULK_POLL_SECONDS`,
    each wait doubled up to a minute; past `SF_BULK_TIMEOUT_SECONDS` it raises."""
    settings = client.settings
    deadline = time.monotonic() + settings.bulk_timeout_seconds
    delay = settings.bulk_poll_seconds
    while True:
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        job = job_state(client, job_id)
        if job.get("state") in ("JobComplete", "Failed", "Aborted"):
            return job
        if time.monotonic() >= deadline:
            raise SalesforceBulkJobError(
                f"Bulk job {job_id} did not finish within the timeout of {settings.bulk_timeout_seconds:g} s "
                "(SF_BULK_TIMEOUT_SECONDS)",
                job_id=job_id,
            )
        delay = min(delay * 2, POLL_CAP_SECONDS)


def settle(client: SalesforceClient, job_ids: Iterable[str]) -> None:
    """Jobs a killed run left behind: one never closed is aborted (it holds no written row), one Salesforce
    is still writing is waited for, so the next run does not read the org while that job changes it."""
    for job_id in job_ids:
        try:
            job = job_state(client, job_id)
        except SalesforceRequestError:
            continue  # gone: Salesforce keeps jobs for 7 days
        if job.get("state") == "Open":
            with suppress(SalesforceError):
                set_state(client, job_id, "Aborted")
        elif job.get("state") in ("UploadComplete", "InProgress"):
            wait_for(client, job_id)


def bulk_cell(record: Mapping[str, Any], column: str) -> str:
    if column not in record:
        return ""
    value = record[column]
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bulk_error(text: str) -> SfErrorDetail:
    """`REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --` → code, message, fields."""
    code, _, rest = text.partition(":")
    rest = rest.removesuffix("--").strip()
    message, _, fields = rest.rpartition(":")
    if not message:
        message, fields = rest, ""
    return SfErrorDetail(code, message, tuple(f for f in fields.split(",") if f))
