"""The project's Salesforce client: simple-salesforce for the wire, plus what an ERP sync needs around it.

- one login per client, renewed once when the session expires (`SF_AUTH=token` cannot be renewed);
- `upsert` through sObject Collections (≤ 200 records each, up to five of them in one composite call)
  below a threshold and Bulk API 2.0 above it, with one outcome per input record, in input order, on
  both paths; `upsert_all` keeps several upserts in order (parents before variants) in the same calls;
- streaming SOQL, chunked external-id look-ups, describes cached and fetched together (one composite
  call for a flow's objects) and a schema preflight;
- API usage from every response's `Sforce-Limit-Info`; REQUEST_LIMIT_EXCEEDED stops at once;
  5xx, connection errors and UNABLE_TO_LOCK_ROW records are retried with bounded backoff.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError as SimpleSalesforceError,
)
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from afas_sf_assets.retrying import RetryPolicy
from afas_sf_assets.salesforce.auth import Session, obtain_session
from afas_sf_assets.salesforce.bulk_job import BulkUpsertJob
from afas_sf_assets.salesforce.errors import (
    SalesforceAuthError,
    SalesforceConnectionError,
    SalesforceError,
    SalesforceLimitExceeded,
    SalesforceRequestError,
    SalesforceSchemaError,
    SalesforceServerError,
    SfErrorDetail,
    details_from,
)
from afas_sf_assets.salesforce.records import UpsertOutcome
from afas_sf_assets.salesforce.settings import AuthFlow, SalesforceSettings
from afas_sf_assets.salesforce.soql import CLIENT_HEADER_BYTES, MAX_URI_BYTES, SoqlTooLong, check_statement, in_queries

logger = logging.getLogger(__name__)
T = TypeVar("T")

COLLECTION_SIZE = 200
# A composite call takes 25 subrequests, of which at most 5 may be sObject Collections or queries
# (REST API Developer Guide, "Composite"); the whole call is one API call.
COMPOSITE_SIZE = 25
COMPOSITE_COLLECTIONS = 5
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"


@dataclass(frozen=True)
class CollectionCall:
    """One sObject Collections request: its method, path below the API version, query and body."""

    method: str
    path: str
    records: int
    body: dict[str, Any] | None = None
    params: dict[str, str] | None = None


Group = tuple[str, str, Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def _strip_query(url: str | None) -> str | None:
    # SOQL in a query string can hold e-mail addresses; the path locates a call well enough.
    if not url:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class SalesforceClient:
    """One Salesforce org. Thread-safe for reads; share one per process."""

    def __init__(self, settings: SalesforceSettings, *, retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._http = requests.Session()
        if settings.ca_bundle:
            # Without trust_env=False, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would silently replace `verify`.
            self._http.verify = str(settings.ca_bundle)
            self._http.trust_env = False
        self._http.hooks["response"].append(self._on_response)
        self._lock = threading.Lock()
        self._calls = 0
        self._usage: ApiUsage | None = None
        self._describes: dict[str, dict[str, Any]] = {}
        self._object_names: set[str] | None = None
        self._field_index: dict[str, dict[str, dict[str, Any]] | None] = {}
        self._sf: Salesforce | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- session ---------------------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *_: Any, **__: Any) -> None:
        with self._lock:
            self._calls += 1
            info = response.headers.get("Sforce-Limit-Info", "")
            if info.startswith("api-usage="):
                used, _, limit = info.split("=", 1)[1].split(";")[0].partition("/")
                if used.isdigit() and limit.isdigit():
                    self._usage = ApiUsage(int(used), int(limit))

    @property
    def calls(self) -> int:
        """HTTP calls this client made (logins, retries and bulk polls included)."""
        return self._calls

    @property
    def api_usage(self) -> ApiUsage | None:
        """The org's daily API usage as of the last response."""
        return self._usage

    def _login(self) -> Salesforce:
        session: Session = obtain_session(self.settings, self._http)
        self._sf = Salesforce(
            instance_url=session.instance_url,
            session_id=session.access_token,
            session=self._http,
            version=self.settings.api_version,
        )
        return self._sf

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce handle, logged in."""
        return self._sf or self._login()

    def call(self, operation: Callable[[Salesforce], T], *, what: str, idempotent: bool = True) -> T:
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            try:
                return operation(self.sf)
            except SalesforceExpiredSession as exc:
                if renewed or self.settings.auth is AuthFlow.TOKEN:
                    raise SalesforceAuthError(
                        f"{what}: the Salesforce session expired and cannot be renewed",
                        status=401,
                        url=_strip_query(exc.url),
                    ) from None
                logger.info("Salesforce session expired; logging in again")
                self._login()
                renewed = True
                attempt -= 1
                continue
            except SimpleSalesforceError as exc:
                error = _translate(what, exc)
            except requests.RequestException as exc:
                error = SalesforceConnectionError(f"{what}: no answer from Salesforce ({type(exc).__name__})")
                if not idempotent and not isinstance(exc, requests.ConnectionError):
                    raise error from None
            retryable = error.transient and (idempotent or isinstance(error, SalesforceConnectionError))
            delay = self.retry.delay(attempt) if retryable else None
            if delay is None:
                raise error from None
            logger.warning(
                "%s failed (%s); attempt %d, retrying in %.1fs", what, error.code or error.status, attempt, delay
            )
            time.sleep(delay)

    def _data_path(self) -> str:
        """The versioned path composite subrequests name (`/services/data/v62.0/`)."""
        return urlsplit(self.sf.base_url).path

    def _composite(self, subrequests: list[dict[str, Any]], *, what: str) -> list[dict[str, Any]]:
        """Subrequests in one API call, run in the order given (collation off: a variant's parent goes first);
        allOrNone off, so a failed subrequest fails alone."""
        body = {"allOrNone": False, "collateSubrequests": False, "compositeRequest": subrequests}
        response = self.call(lambda sf: sf.restful("composite", method="POST", json=body), what=what)
        return list((response or {}).get("compositeResponse") or [])

    def _collection_calls(self, calls: Sequence[CollectionCall], *, what: str) -> list[list[dict[str, Any]]]:
        """Each sObject Collections request's per-record results, in order. Several go as composite calls of
        five, so the collections of a batch cost one call where they cost five. A subrequest Salesforce
        refuses whole gives each of its records that error."""
        if len(calls) == 1:
            only = calls[0]
            results = self.call(
                lambda sf: sf.restful(only.path, method=only.method, json=only.body, params=only.params),
                what=what,
            )
            return [list(results or [])]
        base = self._data_path()
        answers: list[list[dict[str, Any]]] = []
        for start in range(0, len(calls), COMPOSITE_COLLECTIONS):
            group = calls[start : start + COMPOSITE_COLLECTIONS]
            subrequests = [
                {
                    "method": call.method,
                    "url": base + call.path + (f"?{urlencode(call.params)}" if call.params else ""),
                    "referenceId": f"c{i}",
                    **({"body": call.body} if call.body is not None else {}),
                }
                for i, call in enumerate(group)
            ]
            for call, result in zip(group, self._composite(subrequests, what=what), strict=True):
                body = result.get("body")
                if result.get("httpStatusCode", 500) < 300 and isinstance(body, list) and len(body) == call.records:
                    answers.append(body)
                    continue
                errors = body if isinstance(body, list) else [{"errorCode": "UNKNOWN", "message": str(body)}]
                refused = {
                    "success": False,
                    "errors": [
                        {"statusCode": e.get("errorCode"), "message": e.get("message"), "fields": e.get("fields") or []}
                        for e in errors
                    ],
                }
                answers.append([refused] * call.records)
        return answers

    # -- reads ------------------------------------------------------------------------------------

    def iter_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, page by page (≤ 2,000 a page), without the `attributes` key. A
        statement too long for any request is refused before it is sent, naming the limit."""
        try:
            check_statement(soql, self.query_budget())
        except SoqlTooLong as exc:
            detail = SfErrorDetail("QUERY_TOO_LONG", str(exc))
            raise SalesforceRequestError("SOQL query not sent", errors=(detail,)) from None
        page = self.call(lambda sf: sf.query(soql, include_deleted=include_deleted), what="SOQL query")
        while True:
            for record in page.get("records", []):
                yield _plain(record)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.call(lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True), what="SOQL page")

    def query_in(
        self,
        template: str,
        values: Iterable[str],
        *,
        derived: Mapping[str, Callable[[str], str]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every record of `template` with `{values}` (and each `{name}` of `derived`) an IN list of the
        values, in as many queries as Salesforce's request limits need (salesforce/soql.py)."""
        for soql in in_queries(template, values, budget_bytes=self.query_budget(), derived=derived):
            yield from self.iter_query(soql)

    def query_budget(self) -> int:
        """The bytes a statement may take, encoded, in a query request: the URI limit less the query path
        (`queryAll/`, the longer) and the headers sent with it."""
        sf = self.sf
        path = urlsplit(sf.base_url).path + "queryAll/?q="
        headers = sum(len(name) + len(value) + 4 for name, value in sf.headers.items()) + CLIENT_HEADER_BYTES
        return MAX_URI_BYTES - len(path) - headers

    def count(self, soql: str) -> int:
        return int(self.call(lambda sf: sf.query(soql), what="SOQL count")["totalSize"])

    def ids_by_external_id(self, sobject: str, field: str, values: Iterable[str]) -> dict[str, str]:
        """Salesforce ids for external id values (case-insensitive, as External ID fields are)."""
        wanted = {str(v).lower(): str(v) for v in values if v not in (None, "")}
        found: dict[str, str] = {}
        for record in self.query_in(f"SELECT Id, {field} FROM {sobject} WHERE {field} IN {{values}}", wanted.values()):
            key = str(record.get(field, "")).lower()
            if key in wanted:
                found[wanted[key]] = record["Id"]
        return found

    def describe(self, sobject: str) -> dict[str, Any]:
        if sobject not in self._describes:
            self._describes[sobject] = self.call(lambda sf: getattr(sf, sobject).describe(), what=f"describe {sobject}")
        return self._describes[sobject]

    def describe_many(self, sobjects: Iterable[str]) -> None:
        """Learn the org's objects and each of these (those not known yet) in one composite call per 25, as a
        flow's preflight needs them all: one round trip instead of one each. An object the org lacks is left
        out; `org_fields` says None for it from the global describe."""
        wanted = [""] if "" not in self._describes else []
        wanted += [o for o in dict.fromkeys(sobjects) if o and o not in self._describes]
        if len(wanted) < 2:
            for sobject in wanted:
                self.sobjects() if sobject == "" else self.describe(sobject)
            return
        base = self._data_path()
        for start in range(0, len(wanted), COMPOSITE_SIZE):
            chunk = wanted[start : start + COMPOSITE_SIZE]
            subrequests = [
                {
                    "method": "GET",
                    "url": f"{base}sobjects/{sobject}/describe" if sobject else f"{base}sobjects",
                    "referenceId": f"d{i}",
                }
                for i, sobject in enumerate(chunk)
            ]
            for sobject, result in zip(chunk, self._composite(subrequests, what="describe"), strict=True):
                if result.get("httpStatusCode") == 200:
                    self._describes[sobject] = result["body"]

    def has_person_accounts(self) -> bool:
        """Whether the org has Person Accounts (from the cached Account describe)."""
        return any(f["name"] == "IsPersonAccount" for f in self.describe("Account")["fields"])

    def sobjects(self) -> list[dict[str, Any]]:
        """The org's objects (the global describe, cached)."""
        if "" not in self._describes:
            self._describes[""] = self.call(lambda sf: sf.describe(), what="describe")
        return self._describes[""]["sobjects"]

    def has_object(self, sobject: str) -> bool:
        if self._object_names is None:
            self._object_names = {o["name"].lower() for o in self.sobjects()}
        return sobject.lower() in self._object_names

    def org_fields(self, sobject: str) -> dict[str, dict[str, Any]] | None:
        """The object's fields as the org describes them, by lower-cased name; None without the object.
        Indexed once per object: the engine asks for every record it sends."""
        if sobject not in self._field_index:
            self._field_index[sobject] = (
                {f["name"].lower(): f for f in self.describe(sobject)["fields"]} if self.has_object(sobject) else None
            )
        return self._field_index[sobject]

    def preflight(self, requirements: Mapping[str, Iterable[str]], problems: Iterable[str] = ()) -> None:
        """Check the org has every object and field given; one error lists everything missing, with the
        caller's other `problems` (fields the org has but the mapping cannot write as it says)."""
        missing: dict[str, list[str]] = {}
        for sobject, fields in requirements.items():
            present = self.org_fields(sobject)
            if present is None:
                missing[sobject] = []
                continue
            absent = list(dict.fromkeys(f for f in fields if f.lower() not in present))
            if absent:
                missing[sobject] = absent
        found = list(problems)
        if missing or found:
            raise SalesforceSchemaError(missing, found)

    def limits(self) -> dict[str, Any]:
        return self.call(lambda sf: sf.limits(), what="limits")

    # -- writes -----------------------------------------------------------------------------------

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertOutcome]:
        """Upsert on an external id; one outcome per record, in order. Safe to repeat after a crash."""
        return self.upsert_all([(sobject, external_id_field, records)])[0]

    def upsert_all(self, groups: Sequence[Group]) -> list[list[UpsertOutcome]]:
        """Several upserts (object, external id, records), done in the order given; one outcome per record.
        The collections of consecutive groups share composite calls, so a batch's configurable parents and
        their variants go in one call, parents first. A group at the bulk threshold is a Bulk API 2.0 job."""
        outcomes: list[list[UpsertOutcome | None]] = [[None] * len(records) for _, _, records in groups]
        pending = [_upsertable(field, records, outcomes[number]) for number, (_, field, records) in enumerate(groups)]
        attempt = 0
        while any(pending):
            attempt += 1
            collections: list[tuple[int, list[int]]] = []
            for number, indices in enumerate(pending):
                sobject, field, records = groups[number]
                if len(indices) < self.settings.bulk_threshold:
                    collections += [
                        (number, indices[start : start + COLLECTION_SIZE])
                        for start in range(0, len(indices), COLLECTION_SIZE)
                    ]
                    continue
                # What comes before goes first: the bulk job may need it (a variant its parent).
                self._collections_upsert(groups, collections, outcomes)
                collections = []
                results = self._bulk_upsert(sobject, field, [records[i] for i in indices])
                for index, outcome in zip(indices, results, strict=True):
                    outcomes[number][index] = outcome
            self._collections_upsert(groups, collections, outcomes)
            locked = [[i for i in indices if _locked(outcomes[n][i])] for n, indices in enumerate(pending)]
            count = sum(map(len, locked))
            delay = self.retry.delay(attempt) if count else None
            if delay is None:
                break
            logger.warning("%d records locked by another transaction; retrying in %.1fs", count, delay)
            time.sleep(delay)
            pending = locked
        return [[o for o in group if o is not None] for group in outcomes]

    def _collections_upsert(
        self,
        groups: Sequence[Group],
        chunks: list[tuple[int, list[int]]],
        outcomes: list[list[UpsertOutcome | None]],
    ) -> None:
        if not chunks:
            return
        calls = []
        for number, indices in chunks:
            sobject, field, records = groups[number]
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **dict(records[i])} for i in indices],
            }
            calls.append(CollectionCall("PATCH", f"composite/sobjects/{sobject}/{field}", len(indices), body))
        named = ", ".join(dict.fromkeys(groups[number][0] for number, _ in chunks))
        answers = self._collection_calls(calls, what=f"upsert {sum(c.records for c in calls)} {named}")
        for (number, indices), results in zip(chunks, answers, strict=True):
            _, field, records = groups[number]
            for index, result in zip(indices, results, strict=True):
                outcomes[number][index] = UpsertOutcome(
                    str(records[index][field]),
                    id=result.get("id"),
                    created=result.get("created"),
                    errors=_errors(result),
                )

    def _bulk_upsert(self, sobject: str, field: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertOutcome]:
        with tempfile.TemporaryDirectory(prefix="afas-sf-bulk-") as directory:
            job = self.bulk_job(sobject, field, Path(directory), BulkUpsertJob.columns_of(records))
            job.add(records)
            job.run()
            return job.outcomes([str(record[field]) for record in records])

    def bulk_job(self, sobject: str, field: str, directory: Path, columns: Sequence[str]) -> BulkUpsertJob:
        """A Bulk API 2.0 upsert job to feed rows to over time (salesforce/bulk_job.py), its files in `directory`."""
        return BulkUpsertJob(self, sobject, field, directory, columns)

    def update_by_id(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[UpsertOutcome]:
        """Update records by their Salesforce `Id` (collections of 200, five to a call); one outcome per
        record, in order."""
        chunks = [records[start : start + COLLECTION_SIZE] for start in range(0, len(records), COLLECTION_SIZE)]
        calls = [
            CollectionCall(
                "PATCH",
                "composite/sobjects",
                len(chunk),
                {"allOrNone": False, "records": [{"attributes": {"type": sobject}, **dict(r)} for r in chunk]},
            )
            for chunk in chunks
        ]
        outcomes: list[UpsertOutcome] = []
        for chunk, results in zip(
            chunks, self._collection_calls(calls, what=f"update {len(records)} {sobject}"), strict=True
        ):
            for record, result in zip(chunk, results, strict=True):
                outcomes.append(
                    UpsertOutcome(
                        str(record["Id"]),
                        id=result.get("id"),
                        created=False,
                        errors=_errors(result),
                    )
                )
        return outcomes

    def delete_records(self, ids: Sequence[str]) -> list[UpsertOutcome]:
        """Delete records by id (collections of 200, five to a call, allOrNone false); one outcome per id, in
        order."""
        chunks = [list(ids[start : start + COLLECTION_SIZE]) for start in range(0, len(ids), COLLECTION_SIZE)]
        calls = [
            CollectionCall(
                "DELETE", "composite/sobjects", len(chunk), params={"ids": ",".join(chunk), "allOrNone": "false"}
            )
            for chunk in chunks
        ]
        outcomes: list[UpsertOutcome] = []
        for chunk, results in zip(
            chunks, self._collection_calls(calls, what=f"delete {len(ids)} records"), strict=True
        ):
            for record_id, result in zip(chunk, results, strict=True):
                outcomes.append(
                    UpsertOutcome(
                        record_id,
                        id=record_id,
                        errors=_errors(result),
                    )
                )
        return outcomes

    def delete(self, sobject: str, record_id: str) -> None:
        self.call(lambda sf: getattr(sf, sobject).delete(record_id), what=f"delete {sobject}")


def _errors(result: Mapping[str, Any]) -> tuple[SfErrorDetail, ...]:
    """A collection result's errors; none when it succeeded."""
    return () if result.get("success") else details_from(result.get("errors") or [])


def _locked(outcome: UpsertOutcome | None) -> bool:
    return outcome is not None and outcome.error_code == LOCK_ERROR


def _upsertable(field: str, records: Sequence[Mapping[str, Any]], outcomes: list[UpsertOutcome | None]) -> list[int]:
    """The records that can be sent, by index; the others get their outcome here: no external id, or one
    the batch already has (Salesforce would fail both copies)."""
    sendable: list[int] = []
    first_index: dict[str, int] = {}
    for index, record in enumerate(records):
        value = record.get(field)
        key = str(value).lower() if value not in (None, "") else None
        if key is None:
            detail = SfErrorDetail("REQUIRED_FIELD_MISSING", f"no value for the external id {field}", (field,))
        elif key in first_index:
            detail = SfErrorDetail("DUPLICATE_EXTERNAL_ID", f"{field} {value} appears twice in one batch", (field,))
        else:
            first_index[key] = index
            sendable.append(index)
            continue
        outcomes[index] = UpsertOutcome("" if key is None else str(value), errors=(detail,))
    return sendable


def _translate(what: str, exc: SimpleSalesforceError) -> SalesforceError:
    status = exc.status
    details = details_from(exc.content, status)
    url = _strip_query(exc.url)
    if isinstance(exc, SalesforceRefusedRequest) and any(d.code == "REQUEST_LIMIT_EXCEEDED" for d in details):
        return SalesforceLimitExceeded(
            f"{what}: the org's daily API allocation is spent", status=status, url=url, errors=details
        )
    if status >= 500:
        return SalesforceServerError(
            f"{what}: Salesforce answered HTTP {status}", status=status, url=url, errors=details
        )
    return SalesforceRequestError(
        f"{what}: Salesforce refused the request (HTTP {status})", status=status, url=url, errors=details
    )


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (_plain(v) if isinstance(v, dict) else v) for k, v in record.items() if k != "attributes"}
