"""The Salesforce sandbox's HTTP face, close enough to Salesforce that unmodified simple-salesforce works.

Login (`/services/oauth2/token`, `/services/Soap/u/…`) and the instance (`/services/data/v…/…`) share
one HTTPS server. Every authenticated data call is counted against a daily allocation and answered
with `Sforce-Limit-Info`, as Salesforce does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from afas_sf_assets.salesforce.schema import OrgFeature
from afas_sf_assets.sandbox.knobs import faults_endpoint
from afas_sf_assets.sandbox.salesforce.bulk import BulkJobs, JobError
from afas_sf_assets.sandbox.salesforce.org import API_VERSION, MultipleMatches, Org, RecordError, RequestRefused
from afas_sf_assets.sandbox.salesforce.store import SfStore

ORG_ID = "00DZ0000000SBOXAAA"
COLLECTION_LIMIT = 200
COMPOSITE_LIMIT = 25
DEFAULT_BATCH = 2000
_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d+)(/.*)?$")


class Reply(Exception):
    """Short-circuits a handler with a ready response."""

    def __init__(self, status: int, body: Any = None) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _error(code: str, message: str, status: int) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])


def _refuse_constant(name: str) -> Any:
    # JSON has no NaN or Infinity; Python's parser would take them, Salesforce's does not.
    raise ValueError(f"Non-standard token '{name}'")


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _error("JSON_PARSER_ERROR", f"Unexpected character: {exc}", 400) from exc


def _request_body(raw: bytes, content_type: str) -> Any:
    if raw and "csv" in content_type:
        return raw.decode("utf-8")
    return _json_body(raw) if raw else None


def _sobject_body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        token = "START_ARRAY" if isinstance(body, list) else "VALUE_STRING"
        raise _error("JSON_PARSER_ERROR", f"Cannot deserialize instance of SObject from {token} token", 400)
    return body


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Whatever goes wrong inside answers as Salesforce does: a JSON error list, never plain text."""
    return JSONResponse(
        [
            {
                "errorCode": "UNKNOWN_EXCEPTION",
                "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
                f"{uuid.uuid4().int % 10**10}-{type(exc).__name__}",
            }
        ],
        status_code=500,
    )


class SalesforceSandboxApp:
    def __init__(self, store: SfStore, base_url: str) -> None:
        self.store = store
        self.base_url = base_url
        self.org = Org(store, frozenset(OrgFeature(f) for f in store.get_meta("features", [])))
        self.bulk = BulkJobs(self.org)
        self.cursors: dict[str, tuple[str, tuple[str, ...], list[str], bool]] = {}

    def build(self) -> RequestSizeLimit:
        return RequestSizeLimit(self._routes())

    def _routes(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_sandbox/health", self.health),
                Route("/_sandbox/faults", self.sandbox_faults, methods=["GET", "PUT", "DELETE"]),
                Route("/_sandbox/features", self.sandbox_features, methods=["GET", "PUT"]),
                Route("/_sandbox/limits", self.sandbox_limits, methods=["GET", "PUT"]),
                Route("/_sandbox/sessions", self.sandbox_sessions, methods=["PUT", "DELETE"]),
                Route("/_sandbox/calls", self.sandbox_calls, methods=["GET", "DELETE"]),
                Route("/_sandbox/records/{sobject}", self.sandbox_records, methods=["GET"]),
                Route("/services/oauth2/token", self.oauth_token, methods=["POST"]),
                Route("/services/Soap/u/{version}", self.soap_login, methods=["POST"]),
                Route("/services/data", self.versions, methods=["GET"]),
                Route("/services/data/", self.versions, methods=["GET"]),
                Route("/services/data/{path:path}", self.data, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
            ],
            exception_handlers={Exception: unexpected_error},
        )

    # -- sandbox knobs -------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "features": sorted(self.org.features)})

    async def sandbox_faults(self, request: Request) -> Response:
        return await faults_endpoint(self.store, request)

    async def sandbox_features(self, request: Request) -> Response:
        if request.method == "PUT":
            features = sorted({OrgFeature(f).value for f in (await request.json())["features"]})
            self.store.set_meta("features", features)
            self.org.features = frozenset(OrgFeature(f) for f in features)
        return JSONResponse({"features": sorted(self.org.features)})

    async def sandbox_limits(self, request: Request) -> Response:
        if request.method == "PUT":
            body = await request.json()
            if "max" in body:
                self.store.set_meta("api_max", int(body["max"]))
            if "used" in body:
                self.store.set_counter("api_used", int(body["used"]))
        return JSONResponse({"max": self._api_max(), "used": self.store.counter("api_used")})

    async def sandbox_sessions(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.store.expire_sessions()
        else:
            self.store.set_meta("session_seconds", float((await request.json())["seconds"]))
        return JSONResponse({"session_seconds": self.store.get_meta("session_seconds", 7200.0)})

    async def sandbox_calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.store.reset_counters("calls:")
        counts = self.store.counters("calls:")
        return JSONResponse(
            {"total": counts.pop("total", 0), "by_endpoint": counts, "api_used": self.store.counter("api_used")}
        )

    async def sandbox_records(self, request: Request) -> Response:
        sobject = request.path_params["sobject"]
        return JSONResponse({"records": list(self.store.iter_records(sobject))})

    # -- login -----------------------------------------------------------------------------------

    def _issue(self, username: str) -> dict[str, Any]:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        issued = time.time()
        self.store.add_session(token, issued, username)
        return {
            "access_token": token,
            "instance_url": self.base_url,
            "id": f"{self.base_url}/id/{ORG_ID}/005Z",
            "token_type": "Bearer",
            "issued_at": str(int(issued * 1000)),
            "scope": "api",
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }

    async def oauth_token(self, request: Request) -> Response:
        self.store.next_number("calls:login", 1)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        app = self.store.get_meta("connected_app")
        user = self.store.get_meta("user")
        grant = form.get("grant_type", "")
        failure = JSONResponse({"error": "invalid_grant", "error_description": "authentication failure"}, 400)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if grant == "client_credentials":
            if (client_id, client_secret) != (app["consumer_key"], app["consumer_secret"]):
                return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
            return JSONResponse(self._issue(user["username"]))
        if grant == "password":
            if client_id != app["consumer_key"] or client_secret != app["consumer_secret"]:
                return JSONResponse({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
            if form.get("username") != user["username"] or form.get("password") != user["password"] + user["token"]:
                return failure
            return JSONResponse(self._issue(user["username"]))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    app["public_key"],
                    algorithms=["RS256"],
                    audience=[self.base_url, "https://login.salesforce.com", "https://test.salesforce.com"],
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )
            except jwt.PyJWTError:
                return failure
            if claims["iss"] != app["consumer_key"] or claims["sub"] != user["username"]:
                return failure
            return JSONResponse(self._issue(user["username"]))
        return JSONResponse({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)

    async def soap_login(self, request: Request) -> Response:
        self.store.next_number("calls:login", 1)
        text = (await request.body()).decode()
        user = self.store.get_meta("user")
        username = re.search(r"<\w+:username>(.*?)</\w+:username>", text, re.S)
        password = re.search(r"<\w+:password>(.*?)</\w+:password>", text, re.S)
        if (
            not username
            or not password
            or username.group(1) != user["username"]
            or password.group(1) != user["password"] + user["token"]
        ):
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org'
                '/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, "
                "security token; or user locked out.</faultstring><detail><sf:LoginFault><sf:exceptionCode>"
                "INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token;"
                " or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
                "</soapenv:Body></soapenv:Envelope>"
            )
            return Response(fault, status_code=500, media_type="text/xml")
        issued = self._issue(user["username"])
        version = request.path_params["version"]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/'
            'soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
            f"<metadataServerUrl>{self.base_url}/services/Soap/m/{version}/{ORG_ID}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{self.base_url}/services/Soap/u/{version}/{ORG_ID}</serverUrl>"
            f"<sessionId>{issued['access_token']}</sessionId><userId>005Z00000000001AAA</userId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(body, media_type="text/xml")

    # -- the data API ------------------------------------------------------------------------------

    async def versions(self, request: Request) -> Response:
        return JSONResponse([{"label": "Winter '25", "url": f"/services/data/v{API_VERSION}", "version": API_VERSION}])

    def _api_max(self) -> int:
        return int(self.store.get_meta("api_max", 15_000))

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.store.counter('api_used')}/{self._api_max()}"}

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").removeprefix("OAuth ").strip()
        issued = self.store.session_issued(token) if token else None
        lifetime = float(self.store.get_meta("session_seconds", 7200.0))
        if issued is None or time.time() - issued > lifetime:
            raise _error("INVALID_SESSION_ID", "Session expired or invalid", 401)

    async def _faults(self, request: Request) -> None:
        faults = self.store.get_meta("faults", {})
        if not faults:
            return
        if faults.get("latency_ms"):
            await asyncio.sleep(faults["latency_ms"] / 1000)
        queue = faults.get("fail_next") or []
        for index, fault in enumerate(queue):
            if fault.get("match", "") in request.url.path and fault.get("method", request.method) == request.method:
                queue.pop(index)
                self.store.set_meta("faults", {**faults, "fail_next": queue})
                raise _error(
                    fault.get("errorCode", "SERVER_UNAVAILABLE"),
                    fault.get("message", "Server unavailable"),
                    int(fault.get("status", 503)),
                )
        if faults.get("error_rate_5xx") and random.random() < float(faults["error_rate_5xx"]):
            raise _error("SERVER_UNAVAILABLE", "Server unavailable", 503)

    def _count_describe(self, rest: str) -> None:
        """Describes are counted apart as well, by object (a composite call's too): what a run spends on
        learning the org's shape."""
        if rest == "/sobjects" or rest.endswith("/describe"):
            described = rest.split("/")[2] if rest != "/sobjects" else "(global)"
            self.store.next_number(f"calls:describe {described}", 1)

    async def _record_latency(self, rest: str, body: Any) -> None:
        """The WAN model's server time per record of an sObject Collections call (`latency_per_record_ms`)."""
        per_record = float(self.store.get_meta("faults", {}).get("latency_per_record_ms", 0))
        records = collection_records(rest, body) if per_record else 0
        if records:
            await asyncio.sleep(per_record * records / 1000)

    async def data(self, request: Request) -> Response:
        path = "/" + request.path_params["path"].rstrip("/")
        match = re.match(r"^/v(\d+\.\d+)(/.*)?$", path)
        if not match:
            return JSONResponse(_error("NOT_FOUND", "The requested resource does not exist", 404).body, 404)
        rest = match.group(2) or "/"
        self.store.next_number("calls:total", 1)
        try:
            self._authenticate(request)
            if self.store.counter("api_used") >= self._api_max():
                raise _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403)
            self.store.next_number("api_used", 1)
            self._count_describe(rest)
            endpoint = f"{request.method} {rest.split('/')[1] if rest != '/' else ''}"
            if re.match(r"^/jobs/ingest/[^/]+/\w+", rest) and request.method == "GET":
                endpoint += " (results)"  # a bulk job's result lists apart from its polls
            raw = await request.body()
            try:
                body = _request_body(raw, request.headers.get("content-type", ""))
            except Reply:
                self.store.next_number(f"calls:{endpoint}", 1)
                raise
            # A composite call that only reads is counted apart, so a count of writes means writes.
            reads_only = rest == "/composite" and not composite_writes(body)
            self.store.next_number(f"calls:{endpoint}{' (reads)' if reads_only else ''}", 1)
            await self._faults(request)
            query = {k: v[-1] for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
            await self._record_latency(rest, body)
            status, payload, media = await run_in_threadpool(
                self.handle, request.method, rest, query, body, dict(request.headers)
            )
        except Reply as reply:
            status, payload, media = reply.status, reply.body, "application/json"
        headers = self._limit_header()
        if status == 204 or (payload is None and status in (201, 204)):
            return Response(status_code=status, headers=headers)
        if media != "application/json":
            return PlainTextResponse(payload, status_code=status, headers=headers, media_type=media)
        return JSONResponse(payload, status_code=status, headers=headers)

    def handle(
        self, method: str, rest: str, query: dict[str, str], body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, str]:
        """Route one call below `/services/data/vXX.X`; composite subrequests come through here too."""
        parts = [unquote(p) for p in rest.strip("/").split("/") if p]
        try:
            if not parts:
                return (
                    200,
                    {
                        "sobjects": f"/services/data/v{API_VERSION}/sobjects",
                        "query": f"/services/data/v{API_VERSION}/query",
                        "limits": f"/services/data/v{API_VERSION}/limits",
                    },
                    "application/json",
                )
            head = parts[0]
            if head == "limits" and method == "GET":
                used = self.store.counter("api_used")
                return (
                    200,
                    {
                        "DailyApiRequests": {"Max": self._api_max(), "Remaining": max(0, self._api_max() - used)},
                        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                    },
                    "application/json",
                )
            if head in ("query", "queryAll") and method == "GET":
                return self._query(parts, query, head == "queryAll", headers or {})
            if head == "sobjects":
                return self._sobjects(method, parts[1:], query, body)
            if head == "composite":
                return self._composite(method, parts[1:], query, body)
            if head == "jobs" and len(parts) >= 2 and parts[1] == "ingest":
                return self._jobs(method, parts[2:], body)
        except RecordError as exc:
            return exc.status, exc.as_body(), "application/json"
        except JobError as exc:
            return exc.status, [{"errorCode": exc.code, "message": exc.message}], "application/json"
        except Reply as reply:
            return reply.status, reply.body, "application/json"
        return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], "application/json"

    # -- sobjects ----------------------------------------------------------------------------------

    def _sobjects(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any, str]:
        js = "application/json"
        if not parts:
            return (
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [
                        {
                            "name": o.name,
                            "label": o.label,
                            "custom": o.custom,
                            "keyPrefix": o.key_prefix,
                            "createable": o.createable,
                            "updateable": o.updateable,
                            "queryable": True,
                        }
                        for o in self.org.objects().values()
                    ],
                },
                js,
            )
        obj = self.org.sobject(parts[0])
        if len(parts) == 1:
            if method == "GET":
                return 200, {"objectDescribe": {"name": obj.name, "label": obj.label, "custom": obj.custom}}, js
            if method == "POST":
                with self.store.transaction():
                    result = self.org.save(obj.name, _sobject_body(body), create_only=True)
                return 201, {"id": result.id, "success": True, "errors": []}, js
        if len(parts) == 2 and parts[1] == "describe" and method == "GET":
            return 200, self.org.describe(obj), js
        if len(parts) == 2:
            record_id = parts[1]
            if method == "GET":
                record = self.org.get(obj.name, record_id)
                fields = query.get("fields")
                names = tuple(fields.split(",")) if fields else tuple(f.name for f in self.org.fields(obj))
                return 200, self.org.render(obj, names, record), js
            if method == "PATCH":
                with self.store.transaction():
                    self.org.save(obj.name, _sobject_body(body), record_id=record_id)
                return 204, None, js
            if method == "DELETE":
                with self.store.transaction():
                    self.org.delete(obj.name, record_id)
                return 204, None, js
        if len(parts) == 3 and parts[2] == "VersionData" and obj.name == "ContentVersion" and method == "GET":
            record = self.org.get(obj.name, parts[1])
            return 200, base64.b64decode(record["VersionData"]), "application/octet-stream"
        if len(parts) == 3:
            field, value = parts[1], parts[2]
            if method == "PATCH":
                body = _sobject_body(body)
                if any(k.lower() in (field.lower(), "id") for k in body if k != "attributes"):
                    raise _error(
                        "INVALID_FIELD",
                        f"The field {field} or Id cannot be specified in the body of an upsert by external id",
                        400,
                    )
                try:
                    with self.store.transaction():
                        result = self.org.save(
                            obj.name, body, external=(field, value), update_only=query.get("updateOnly") == "true"
                        )
                except MultipleMatches as exc:
                    return 300, [f"/services/data/v{API_VERSION}/sobjects/{obj.name}/{i}" for i in exc.ids], js
                return (
                    (201 if result.created else 200),
                    {"id": result.id, "success": True, "errors": [], "created": result.created},
                    js,
                )
            matches = self.org.find_by_external_id(obj, field, value)
            if not matches:
                raise _error("NOT_FOUND", "The requested resource does not exist", 404)
            if method == "GET":
                record = self.store.get(matches[0])[1]  # type: ignore[index]
                return 200, self.org.render(obj, tuple(f.name for f in self.org.fields(obj)), record), js
            if method == "DELETE":
                with self.store.transaction():
                    self.org.delete(obj.name, matches[0])
                return 204, None, js
        raise _error("NOT_FOUND", "The requested resource does not exist", 404)

    # -- sObject Collections and composite ------------------------------------------------------------

    def _composite(self, method: str, parts: list[str], query: dict[str, str], body: Any) -> tuple[int, Any, str]:
        js = "application/json"
        if not parts and method == "POST":
            subrequests = _composite_subrequests(body)
            if not body.get("allOrNone"):
                return 200, {"compositeResponse": self._composite_request(subrequests, all_or_none=False)}, js
            try:
                with self.store.transaction():
                    response = self._composite_request(subrequests, all_or_none=True)
                    if any(r["httpStatusCode"] >= 400 for r in response):
                        raise Reply(200, response)
            except Reply as rolled_back:
                # Rolled back: every subrequest answers 400, the one that failed with its own error.
                failed = next(r for r in rolled_back.body if r["httpStatusCode"] >= 400)
                return (
                    200,
                    {
                        "compositeResponse": [
                            r if r is failed or r["httpStatusCode"] >= 400 else _halted(r["referenceId"], _ROLLED_BACK)
                            for r in rolled_back.body
                        ]
                    },
                    js,
                )
            return 200, {"compositeResponse": response}, js
        if parts[:1] != ["sobjects"]:
            raise _error("NOT_FOUND", "The requested resource does not exist", 404)
        if method == "DELETE":
            ids = [i for i in query.get("ids", "").split(",") if i]
            if len(ids) > COLLECTION_LIMIT:
                raise _error("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records", 400)
            return 200, self._collection(ids, query.get("allOrNone") == "true", self._delete_one), js
        records = _sobject_body(body).get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise _error("JSON_PARSER_ERROR", "Cannot deserialize instance of SObject[]: records must be objects", 400)
        if len(records) > COLLECTION_LIMIT:
            raise _error(
                "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call", 400
            )
        all_or_none = bool(body.get("allOrNone"))
        if method == "POST" and len(parts) == 1:
            return 200, self._collection(records, all_or_none, self._create_one), js
        if method == "PATCH" and len(parts) == 1:
            return 200, self._collection(records, all_or_none, self._update_one), js
        if method == "PATCH" and len(parts) == 3:
            sobject, field = parts[1], parts[2]
            seen: dict[str, int] = {}
            for record in records:
                value = next((str(v) for k, v in record.items() if k.lower() == field.lower()), None)
                if value is not None:
                    seen[value.lower()] = seen.get(value.lower(), 0) + 1

            def upsert(record: dict[str, Any]) -> dict[str, Any]:
                record_type = (record.get("attributes") or {}).get("type")
                if record_type is None or record_type.lower() != sobject.lower():
                    raise RecordError("INVALID_TYPE", "attributes.type must match the object in the URL")
                value = next((v for k, v in record.items() if k.lower() == field.lower()), None)
                if value in (None, ""):
                    raise RecordError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{field}]", [field])
                if seen.get(str(value).lower(), 0) > 1:
                    raise RecordError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [field])
                try:
                    result = self.org.save(sobject, record, external=(field, str(value)))
                except MultipleMatches as exc:
                    raise RecordError(
                        "DUPLICATE_EXTERNAL_ID", "Multiple records match this external id", [field]
                    ) from exc
                return {"id": result.id, "success": True, "errors": [], "created": result.created}

            return 200, self._collection(records, all_or_none, upsert), js
        raise _error("NOT_FOUND", "The requested resource does not exist", 404)

    def _create_one(self, record: dict[str, Any]) -> dict[str, Any]:
        record_type = (record.get("attributes") or {}).get("type")
        if not record_type:
            raise RecordError("INVALID_TYPE", "Must send a concrete entity type.")
        result = self.org.save(record_type, record, create_only=True)
        return {"id": result.id, "success": True, "errors": []}

    def _update_one(self, record: dict[str, Any]) -> dict[str, Any]:
        record_type = (record.get("attributes") or {}).get("type")
        record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
        if not record_type or not record_id:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        body = {k: v for k, v in record.items() if k.lower() != "id"}
        result = self.org.save(record_type, body, record_id=str(record_id))
        return {"id": result.id, "success": True, "errors": []}

    def _delete_one(self, record_id: str) -> dict[str, Any]:
        found = self.store.get(record_id)
        if found is None:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        self.org.delete(found[0], record_id)
        return {"id": record_id, "success": True, "errors": []}

    def _collection(self, items: list[Any], all_or_none: bool, apply: Any) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        with self.store.transaction():
            failed = False
            for item in items:
                try:
                    results.append(apply(item))
                except RequestRefused as exc:
                    # A value Salesforce cannot deserialize refuses the whole request, before any record.
                    raise Reply(exc.status, exc.as_body()) from exc
                except RecordError as exc:
                    failed = True
                    results.append({"id": None, "success": False, "errors": [exc.as_error()]})
            if all_or_none and failed:
                raise _RollBack(results)
        return results

    def _composite_request(self, subrequests: list[dict[str, Any]], *, all_or_none: bool) -> list[dict[str, Any]]:
        references: dict[str, Any] = {}
        failed: set[str] = set()
        responses: list[dict[str, Any]] = []
        for sub in subrequests:
            ref = sub["referenceId"]
            named = set(re.findall(r"@\{([A-Za-z0-9_]+)", json.dumps([sub["url"], sub.get("body")])))
            if (all_or_none and failed) or named & failed:
                # With allOrNone every later subrequest fails; without it, those that need a failed one.
                message = (
                    _ROLLED_BACK
                    if all_or_none
                    else f"Invalid reference specified. No value for {sorted(named & failed)[0]} found."
                )
                responses.append(_halted(ref, message))
                failed.add(ref)
                continue
            url = _substitute(sub["url"], references)
            sub_body = json.loads(_substitute(json.dumps(sub.get("body")), references)) if sub.get("body") else None
            match = _VERSIONED.match(url.split("?")[0])
            assert match is not None, "checked by _composite_subrequests"
            query = {k: v[-1] for k, v in parse_qs(url.partition("?")[2], keep_blank_values=True).items()}
            rest = match.group(2) or "/"
            self._count_describe(rest)
            status, payload, _ = self.handle(sub["method"], rest, query, sub_body)
            responses.append({"body": payload, "httpHeaders": {}, "httpStatusCode": status, "referenceId": ref})
            references[ref] = payload
            if status >= 400:
                failed.add(ref)
        return responses

    # -- query -----------------------------------------------------------------------------------

    def _query(
        self, parts: list[str], query: dict[str, str], include_deleted: bool, headers: dict[str, str]
    ) -> tuple[int, Any, str]:
        batch = DEFAULT_BATCH
        options = headers.get("sforce-query-options", "")
        if "batchSize=" in options:
            batch = max(200, min(DEFAULT_BATCH, int(options.split("batchSize=")[1].split(",")[0])))
        if len(parts) == 2:
            cursor_id, _, offset_text = parts[1].rpartition("-")
            cursor = self.cursors.get(cursor_id)
            if cursor is None:
                raise _error("INVALID_QUERY_LOCATOR", "invalid query locator", 400)
            return 200, self._page(cursor_id, cursor, int(offset_text), batch), "application/json"
        text = query.get("q", "")
        parsed, obj, records = self.org.query(text, include_deleted=include_deleted)
        if parsed.count:
            return 200, {"totalSize": len(records), "done": True, "records": []}, "application/json"
        cursor_id = "01gZ" + uuid.uuid4().hex[:14]
        cursor = (obj.name, parsed.fields, [r["Id"] for r in records], include_deleted)
        if len(records) > batch:
            self.cursors[cursor_id] = cursor
        return 200, self._page(cursor_id, cursor, 0, batch, records[:batch]), "application/json"

    def _page(
        self,
        cursor_id: str,
        cursor: tuple[str, tuple[str, ...], list[str], bool],
        offset: int,
        batch: int,
        records: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        sobject, fields, ids, include_deleted = cursor
        obj = self.org.sobject(sobject)
        if records is None:
            records = []
            for record_id in ids[offset : offset + batch]:
                found = self.store.get(record_id, include_deleted=True)
                if found:
                    records.append(found[1])
        page = {
            "totalSize": len(ids),
            "done": offset + batch >= len(ids),
            "records": [self.org.render(obj, fields, r) for r in records],
        }
        if not page["done"]:
            endpoint = "queryAll" if include_deleted else "query"
            page["nextRecordsUrl"] = f"/services/data/v{API_VERSION}/{endpoint}/{cursor_id}-{offset + batch}"
        else:
            self.cursors.pop(cursor_id, None)
        return page

    # -- Bulk API 2.0 -------------------------------------------------------------------------------

    def _jobs(self, method: str, parts: list[str], body: Any) -> tuple[int, Any, str]:
        js = "application/json"
        if not parts:
            if method == "POST":
                return 200, self.bulk.create(body or {}), js
            return 200, {"done": True, "records": self.bulk.store.jobs(), "nextRecordsUrl": None}, js
        job_id = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, self.bulk.get(job_id), js
            if method == "PATCH":
                return 200, self.bulk.set_state(job_id, (body or {}).get("state", "")), js
            if method == "DELETE":
                self.bulk.delete(job_id)
                return 204, None, js
        if len(parts) == 2 and parts[1] == "batches" and method == "PUT":
            self.bulk.upload(job_id, body if isinstance(body, str) else "")
            return 201, None, js
        if len(parts) == 2 and method == "GET":
            kind = {
                "successfulresults": "successfulResults",
                "failedresults": "failedResults",
                "unprocessedrecords": "unprocessedrecords",
            }.get(parts[1].lower())
            if kind:
                return 200, self.bulk.results(job_id, kind), "text/csv"
        raise _error("NOT_FOUND", "The requested resource does not exist", 404)


class _RollBack(Reply):
    """allOrNone: the transaction is undone and the good records report the rollback."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        rolled = [
            r
            if not r["success"]
            else {
                "id": None,
                "success": False,
                "errors": [
                    {
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all records were valid and the request was "
                        "using AllOrNone header",
                        "fields": [],
                    }
                ],
            }
            for r in results
        ]
        super().__init__(200, rolled)


def _substitute(text: str, references: dict[str, Any]) -> str:
    def lookup(match: re.Match[str]) -> str:
        ref, _, path = match.group(1).partition(".")
        value: Any = references.get(ref)
        for part in re.findall(r"[^.\[\]]+", path):
            value = value[int(part)] if isinstance(value, list) else (value or {}).get(part)
        return str(value)

    return re.sub(r"@\{([^}]+)\}", lookup, text)


_ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."
_REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
_SUBREQUEST_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_INHERITED_HEADERS = {"accept", "authorization", "content-type"}
# Composite takes sObject resources, Query/QueryAll and (v43.0+) sObject Collections; up to 5 of the 25
# subrequests may be collections or queries (REST API Developer Guide, "Composite").
COMPOSITE_HEAVY_LIMIT = 5


def _composite_subrequests(body: Any) -> list[dict[str, Any]]:
    """The request as Salesforce checks it before running any of it: a 400 for the whole call otherwise."""
    if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
        raise _error("JSON_PARSER_ERROR", "compositeRequest is required and must be an array", 400)
    subrequests: list[Any] = body["compositeRequest"]
    if not subrequests:
        raise _error("INVALID_BATCH_REQUEST", "compositeRequest must contain at least one subrequest", 400)
    if len(subrequests) > COMPOSITE_LIMIT:
        raise _error("INVALID_BATCH_SIZE", f"cannot have more than {COMPOSITE_LIMIT} subrequests", 400)
    seen: set[str] = set()
    heavy = 0
    for sub in subrequests:
        if not isinstance(sub, dict):
            raise _error("JSON_PARSER_ERROR", "each subrequest must be an object", 400)
        ref, method, url = sub.get("referenceId"), sub.get("method"), sub.get("url")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise _error("INVALID_INPUT", f"referenceId {ref!r} must be letters, numbers and underscores only", 400)
        if ref in seen:
            raise _error("INVALID_INPUT", f"Duplicate referenceId provided in the request: {ref}", 400)
        seen.add(ref)
        if method not in _SUBREQUEST_METHODS:
            raise _error(
                "INVALID_INPUT", f"method {method!r} of {ref} is not one of {', '.join(_SUBREQUEST_METHODS)}", 400
            )
        match = _VERSIONED.match(url.split("?")[0]) if isinstance(url, str) else None
        if not match:
            raise _error("INVALID_INPUT", f"url of {ref} must start with /services/data/vXX.X/", 400)
        headers = sub.get("httpHeaders") or {}
        if any(str(name).lower() in _INHERITED_HEADERS for name in headers):
            raise _error("INVALID_INPUT", f"{ref}: Accept, Authorization and Content-Type come from the request", 400)
        head = (match.group(2) or "/").strip("/").split("/")[0]
        collection = (match.group(2) or "").startswith("/composite/sobjects")
        if collection and float(match.group(1)) < 43.0:
            raise _error("INVALID_INPUT", f"{ref}: sObject Collections in composite need API version 43.0", 400)
        if head not in ("sobjects", "query", "queryAll") and not collection:
            raise _error("INVALID_INPUT", f"{ref}: composite does not support {match.group(2)}", 400)
        heavy += head in ("query", "queryAll") or collection
    if heavy > COMPOSITE_HEAVY_LIMIT:
        raise _error(
            "INVALID_INPUT",
            f"{heavy} subrequests are sObject Collections or queries; a composite request takes "
            f"{COMPOSITE_HEAVY_LIMIT}",
            400,
        )
    return subrequests


def _halted(ref: str, message: str) -> dict[str, Any]:
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": ref,
    }


def composite_writes(body: Any) -> bool:
    """Whether a composite request changes anything (any subrequest other than a GET)."""
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    return not isinstance(subrequests, list) or any(
        not isinstance(s, dict) or s.get("method") != "GET" for s in subrequests
    )


def collection_records(rest: str, body: Any) -> int:
    """Records an sObject Collections call carries, or the collections subrequests of a composite call."""
    if rest.startswith("/composite/sobjects") and isinstance(body, dict):
        return len(body.get("records") or [])
    if rest == "/composite" and isinstance(body, dict) and isinstance(body.get("compositeRequest"), list):
        return sum(
            len((s.get("body") or {}).get("records") or [])
            for s in body["compositeRequest"]
            if isinstance(s, dict) and "/composite/sobjects" in str(s.get("url")) and isinstance(s.get("body"), dict)
        )
    return 0


MAX_URI_BYTES = 16_384


class RequestSizeLimit:
    """Salesforce's front end: a request URI over 16,384 bytes is refused with 414, a URI and headers over
    that with 431, in its HTML, before the API sees them."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            uri = len(scope.get("raw_path") or scope["path"].encode()) + 1 + len(scope.get("query_string", b""))
            headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))
            refusal = (
                (414, "URI Too Long")
                if uri > MAX_URI_BYTES
                else (431, "Request Header Fields Too Large")
                if uri + headers > MAX_URI_BYTES
                else None
            )
            if refusal:
                status, reason = refusal
                body = f"<h1>Bad Message {status}</h1><pre>reason: {reason}</pre>"
                await HTMLResponse(body, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)
