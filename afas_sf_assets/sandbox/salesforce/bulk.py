"""Bulk API 2.0 ingest jobs: CSV in, every row through the org's `save`, result CSVs out."""

from __future__ import annotations

import csv
import io
import random
import threading
import time
from typing import Any

from afas_sf_assets.sandbox.salesforce.ids import make_id
from afas_sf_assets.sandbox.salesforce.org import API_VERSION, MultipleMatches, Org, RecordError, now_text

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")
BULK_CHUNK = 200
DELIMITERS = {"BACKQUOTE": "`", "CARET": "^", "COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


def record_endings(data: str) -> set[str]:
    """The line endings that end records (outside quoted cells, where any newline is data)."""
    found: set[str] = set()
    quoted = False
    for index, char in enumerate(data):
        if char == '"':
            quoted = not quoted
        elif char == "\n" and not quoted:
            found.add("\r\n" if index and data[index - 1] == "\r" else "\n")
    return found


class JobError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class BulkJobs:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.store = org.store

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise JobError("INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        try:
            obj = self.org.sobject(str(body.get("object", "")))
        except RecordError as exc:
            raise JobError("INVALIDJOB", f"InvalidJob : Unable to find object: {body.get('object')}") from exc
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            if not external:
                raise JobError("INVALIDJOB", "InvalidJob : External ID was blank for upsert")
            if self.org.field(obj, external) is None:
                raise JobError("INVALIDJOB", f"InvalidJob : Field name not found : {external}")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise JobError("INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in LINE_ENDINGS:
            raise JobError("INVALIDJOB", f"InvalidJob : Invalid line ending: {line_ending}")
        if body.get("contentType", "CSV") != "CSV":
            raise JobError("INVALIDJOB", f"InvalidJob : Invalid content type: {body.get('contentType')}")
        job_id = make_id("750", self.store.next_number("id:750", 1))
        stamp = now_text()
        info = {
            "id": job_id,
            "operation": operation,
            "object": obj.name,
            "createdById": "005Z00000000001AAA",
            "createdDate": stamp,
            "systemModstamp": stamp,
            "state": "Open",
            "externalIdFieldName": external,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(API_VERSION),
            "contentUrl": f"services/data/v{API_VERSION}/jobs/ingest/{job_id}/batches",
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
            "jobType": "V2Ingest",
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "errorMessage": "",
        }
        self.store.save_job(job_id, info)
        return info

    def get(self, job_id: str) -> dict[str, Any]:
        info = self.store.job(job_id)
        if info is None:
            raise JobError("NOT_FOUND", "The requested resource does not exist", status=404)
        return info

    def upload(self, job_id: str, data: str) -> None:
        info = self.get(job_id)
        if info["state"] != "Open":
            raise JobError("INVALIDJOBSTATE", f"Job {job_id} is not open for uploads (state {info['state']})", 409)
        if self.store.job_data(job_id):
            raise JobError(
                "BULK_API_ERROR",
                f"Found multiple contents for job: <{job_id}>, please 'Close' / 'Abort' / 'Delete' the current Job "
                "then create a new Job and make sure you only do 'PUT' once on a given Job.",
            )
        self.store.append_job_data(job_id, data)

    def set_state(self, job_id: str, state: str) -> dict[str, Any]:
        info = self.get(job_id)
        if state == "Aborted":
            if info["state"] in TERMINAL:
                raise JobError("INVALIDJOBSTATE", f"Job is already {info['state']}", 409)
            info["state"] = "Aborted"
            self.store.save_job(job_id, info)
            return info
        if state != "UploadComplete" or info["state"] != "Open":
            raise JobError("INVALIDJOBSTATE", f"Cannot move job from {info['state']} to {state}", 409)
        info["state"] = "UploadComplete"
        self.store.save_job(job_id, info)
        threading.Thread(target=self._process, args=(job_id,), daemon=True).start()
        return info

    def delete(self, job_id: str) -> None:
        info = self.get(job_id)
        if info["state"] not in (*TERMINAL, "UploadComplete"):
            raise JobError("INVALIDJOBSTATE", "Only closed jobs can be deleted", 409)
        self.store.delete_job(job_id)

    def results(self, job_id: str, kind: str) -> str:
        info = self.get(job_id)
        if kind != "unprocessedrecords" and info["state"] not in TERMINAL:
            raise JobError("INVALIDJOBSTATE", "Job results are available once the job is complete", 409)
        results = self.store.job_results(job_id)
        if (
            kind == "unprocessedrecords"
            and info["state"] in ("Open", "UploadComplete", "InProgress", "Aborted", "Failed")
            and "unprocessedrecords" not in results
        ):
            return self.store.job_data(job_id) if info["state"] in ("Aborted", "Failed") else ""
        return results.get(kind, "")

    # -- processing ------------------------------------------------------------------------------

    def _process(self, job_id: str) -> None:
        started = time.monotonic()
        info = self.get(job_id)
        info["state"] = "InProgress"
        self.store.save_job(job_id, info)
        faults = self.store.get_meta("faults", {})
        # A knob for a busy org, where a job waits in Salesforce's queue before it is processed.
        time.sleep(float(faults.get("bulk_job_seconds", 0)))
        data = self.store.job_data(job_id)
        if record_endings(data) - {LINE_ENDINGS[info["lineEnding"]]}:
            setting = info["lineEnding"]
            message = f"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {setting}"
            self._finish(job_id, "Failed", message, started)
            return
        reader = csv.reader(io.StringIO(data, newline=""), delimiter=DELIMITERS[info["columnDelimiter"]])
        rows = list(reader)
        if not rows:
            self._finish(job_id, "Failed", "InvalidBatch : Empty CSV", started)
            return
        header, body_rows = rows[0], rows[1:]
        # The WAN model's server time per record of a bulk job (`bulk_latency_per_record_ms`).
        time.sleep(float(faults.get("bulk_latency_per_record_ms", 0)) * len(body_rows) / 1000)
        obj = self.org.sobject(info["object"])
        for column in header:
            base = column.split(".")[0]
            relation = any((f.relationship_name or "").lower() == base.lower() for f in self.org.fields(obj))
            if self.org.field(obj, base) is None and not relation:
                self._finish(job_id, "Failed", f"InvalidBatch : Field name not found : {column}", started)
                return
        successes, failures = io.StringIO(), io.StringIO()
        ok_writer = csv.writer(successes, lineterminator="\n")
        fail_writer = csv.writer(failures, lineterminator="\n")
        ok_writer.writerow(["sf__Id", "sf__Created", *header])
        fail_writer.writerow(["sf__Id", "sf__Error", *header])
        processed = failed = 0
        order = _parallel_order(job_id, body_rows)
        reached = len(order)
        for position, row in enumerate(order):
            if self.get(job_id)["state"] == "Aborted":
                reached = position
                break
            if not any(cell.strip() for cell in row):
                continue
            processed += 1
            try:
                with self.store.transaction():
                    record_id, created = self._apply(info, obj.name, header, row)
                ok_writer.writerow([record_id, "true" if created else "false", *row])
            except (RecordError, MultipleMatches) as exc:
                failed += 1
                if isinstance(exc, RecordError):
                    message = f"{exc.code}:{exc.message}:{','.join(exc.fields)} --"
                else:
                    message = "MULTIPLE_RECORDS_FOUND:more than one record found for external id field --"
                fail_writer.writerow(["", message, *row])
            time.sleep(0)  # the requests beside a long job get their turn at the store between its records
        info = self.get(job_id)
        info["numberRecordsProcessed"] = processed
        info["numberRecordsFailed"] = failed
        self.store.save_job(job_id, info)
        self.store.save_job_results(
            job_id,
            {
                "successfulResults": successes.getvalue(),
                "failedResults": failures.getvalue(),
                "unprocessedrecords": _unprocessed(header, order[reached:])
                if info["state"] == "Aborted"
                else ",".join(header) + "\n",
            },
        )
        if info["state"] != "Aborted":
            self._finish(job_id, "JobComplete", "", started)

    def _finish(self, job_id: str, state: str, error: str, started: float) -> None:
        info = self.get(job_id)
        info.update(
            {
                "state": state,
                "errorMessage": error,
                "systemModstamp": now_text(),
                "totalProcessingTime": int((time.monotonic() - started) * 1000),
            }
        )
        self.store.save_job(job_id, info)

    def _apply(self, info: dict[str, Any], sobject: str, header: list[str], row: list[str]) -> tuple[str, bool]:
        body: dict[str, Any] = {}
        for column, cell in zip(header, row, strict=False):
            if cell == "":
                continue  # an empty cell leaves the field as it is; #N/A clears it
            value: Any = None if cell == "#N/A" else cell
            if "." in column:
                relation, ext_field = column.split(".", 1)
                body[relation] = {ext_field: value}
            else:
                body[column] = value
        operation = info["operation"]
        if operation in ("delete", "hardDelete"):
            record_id = str(body.get("Id", ""))
            self.org.delete(sobject, record_id)
            return record_id, False
        if operation == "insert":
            result = self.org.save(sobject, body)
        elif operation == "update":
            record_id = str(body.pop("Id", ""))
            result = self.org.save(sobject, body, record_id=record_id)
        else:
            external = info["externalIdFieldName"]
            value = next((v for k, v in body.items() if k.lower() == external.lower()), None)
            if value in (None, ""):
                raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{external}]", [external])
            result = self.org.save(sobject, body, external=(external, str(value)))
        return result.id, result.created


def _parallel_order(job_id: str, rows: list[list[str]]) -> list[list[str]]:
    """The rows in the order the job takes them. Salesforce processes a job's data in chunks of 200 records,
    in parallel, so no row can count on one before it having been written (a child on its parent): here
    the chunks go in a shuffled order, the same for the same job."""
    chunks = [rows[start : start + BULK_CHUNK] for start in range(0, len(rows), BULK_CHUNK)]
    random.Random(job_id).shuffle(chunks)
    return [row for chunk in chunks for row in chunk]


def _unprocessed(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
