"""A run's Bulk API 2.0 writes: one job per object, external id and write pass for the whole run.

Once a batch is large enough for Bulk API 2.0, that batch and every later one of the run go to jobs
instead of being written at once: each group's records are appended to its job's CSV file, and the
batch's works wait on disk. When the rows are read, the jobs run in pass order (a variant's job after its
parents' job: a job processes its rows in parallel), and the batches come back one at a time with their
outcomes, to be recorded and to have their children written exactly as a batch written at once would.

Nothing is in the ledger before its job has answered, and the high-water mark moves only at the end of
the run, so a run killed at any point is redone by the next one; memory holds one batch at a time.
"""

from __future__ import annotations

import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afas_sf_assets.salesforce.bulk_job import BulkUpsertJob, select_in
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.errors import SalesforceBulkJobError, SfErrorDetail
from afas_sf_assets.salesforce.records import UpsertOutcome
from afas_sf_assets.sync.flow import TargetRef, Work

JobKey = tuple[int, str, str]  # write pass, object, external id


@dataclass
class Written:
    """One group of a batch as it came back: its works, what was sent for each, and what became of it."""

    works: list[Work]
    payloads: list[dict[str, Any]]
    outcomes: list[UpsertOutcome]


class DeferredWrites:
    def __init__(self, salesforce: SalesforceClient, on_job: Callable[[str], None] | None = None) -> None:
        self.salesforce = salesforce
        # Told each job's id before its rows are sent, to keep where a killed run's next one finds it.
        self.on_job = on_job
        # A job's columns are fixed when it starts; a later batch bringing another column starts another.
        self.jobs: dict[JobKey, list[BulkUpsertJob]] = {}
        self.failed: dict[int, SalesforceBulkJobError] = {}
        self.batches: list[Path] = []
        self.active = False
        # Made with the first batch queued, so a run that writes nothing by bulk costs no files.
        self._directory: Path | None = None
        # The keys queued so far, on disk: a later batch's record may need one (a variant its parent).
        self._queued: sqlite3.Connection | None = None

    def _open(self) -> tuple[Path, sqlite3.Connection]:
        if self._directory is None or self._queued is None:
            self._directory = Path(tempfile.mkdtemp(prefix="afas-sf-bulk-"))
            self._queued = sqlite3.connect(self._directory / "queued.sqlite")
            self._queued.execute("CREATE TABLE queued (key TEXT PRIMARY KEY, payload_hash TEXT, versions INTEGER)")
        return self._directory, self._queued

    def takes(self, group_sizes: list[int]) -> bool:
        """Whether a batch with groups of these sizes goes to the run's jobs (from the first large group on)."""
        self.active = self.active or any(size >= self.salesforce.settings.bulk_threshold for size in group_sizes)
        return self.active

    def add(self, groups: list[tuple[int, TargetRef, list[Work]]]) -> None:
        if not groups:
            return
        directory, queued = self._open()
        spooled = []
        for write_pass, target, works in groups:
            payloads = [work.payload() for work in works]
            job = self._job((write_pass, target.object, target.external_id), payloads, directory)
            job.add(payloads)
            spooled.append((id(job), works, payloads))
        queued.executemany(
            "INSERT OR REPLACE INTO queued VALUES (?, ?, ?)",
            ((w.key, w.payload_hash, w.requeued + 1) for _, _, works in groups for w in works),
        )
        path = directory / f"batch-{len(self.batches):06d}.pickle"
        with path.open("wb") as handle:
            pickle.dump(spooled, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.batches.append(path)

    def queued(self, keys: Iterable[str]) -> dict[str, tuple[str | None, int]]:
        """Which of `keys` this run's jobs will write, each with the payload hash queued last and how many
        versions are queued: present for a record of a later pass, whose job runs after theirs."""
        if self._queued is None:
            return {}
        query = "SELECT key, payload_hash, versions FROM queued WHERE key IN"
        return {key: (payload_hash, versions) for key, payload_hash, versions in select_in(self._queued, query, keys)}

    def job_count(self) -> int:
        return sum(len(jobs) for jobs in self.jobs.values())

    def run(self) -> None:
        """Each job, in pass order. A job Salesforce fails as a whole fails its records, not the run, and the
        later passes' jobs of its object are not sent (their records need it: a variant its parent)."""
        failed_objects: dict[str, SalesforceBulkJobError] = {}
        for key in sorted(self.jobs):
            for job in self.jobs[key]:
                before = failed_objects.get(job.sobject)
                if before is not None:
                    self.failed[id(job)] = SalesforceBulkJobError(f"not sent: an earlier job failed ({before})")
                    continue
                try:
                    job.run(self.on_job)
                except SalesforceBulkJobError as exc:
                    self.failed[id(job)] = failed_objects[job.sobject] = exc

    def written(self) -> Iterator[list[Written]]:
        """The batches in the order they came, each group with its outcomes; one batch in memory at a time."""
        by_id = {id(job): job for jobs in self.jobs.values() for job in jobs}
        for path in self.batches:
            batch = self._load(path, by_id)
            yield batch
            del batch  # before the next batch is loaded

    def _load(self, path: Path, jobs: dict[int, BulkUpsertJob]) -> list[Written]:
        # Our own file, written by `add` in this process's temporary directory.
        with path.open("rb") as handle:
            spooled: list[tuple[int, list[Work], list[dict[str, Any]]]] = pickle.load(handle)
        path.unlink()
        batch = []
        for job_id, works, payloads in spooled:
            job = jobs[job_id]
            keys = [str(payload[job.field]) for payload in payloads]
            failure = self.failed.get(job_id)
            outcomes = (
                [UpsertOutcome(key, errors=(SfErrorDetail("BULK_JOB_FAILED", str(failure)),)) for key in keys]
                if failure
                else job.outcomes(keys)
            )
            batch.append(Written(works, payloads, outcomes))
        return batch

    def close(self) -> None:
        if self._queued is not None:
            self._queued.close()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    def _job(self, key: JobKey, payloads: list[dict[str, Any]], directory: Path) -> BulkUpsertJob:
        columns = BulkUpsertJob.columns_of(payloads)
        jobs = self.jobs.setdefault(key, [])
        if not jobs or not jobs[-1].covers(columns):
            _, sobject, field = key
            jobs.append(self.salesforce.bulk_job(sobject, field, directory, columns))
        return jobs[-1]
