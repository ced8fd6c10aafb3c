"""The AFAS sandbox's HTTP face: `/ProfitRestServices/…` as Profit answers it, `/_sandbox/…` to steer it.

Everything the server knows lives in the SQLite store, knobs included, so several server processes
and the tests that steer them see the same state.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import re
import secrets
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from afas_sf_assets.afas.dates import AMSTERDAM, format_row_datetime
from afas_sf_assets.afas.filters import Condition, Operator
from afas_sf_assets.sandbox.afas import demo_data
from afas_sf_assets.sandbox.afas.store import AfasStore, ConnectorFieldNotFound, FilterValueInvalid, Query
from afas_sf_assets.sandbox.afas.updates import (
    KEY_ON_UPDATE,
    MANDATORY_ON_INSERT,
    ProfitError,
    UpdateConnectors,
    update_connector_tree,
)
from afas_sf_assets.sandbox.knobs import faults_endpoint

PROFIT_VERSION = "22.22.5"
MAX_QUERY_LENGTH = 2049
MAX_CELLS = 150_000
DEFAULT_TAKE = 100
_TOKEN_DATA = re.compile(r"<data>\s*([0-9A-Fa-f]{64})\s*</data>")


# Where a GetConnector text field comes from in Profit: (UpdateConnector, nested objects, field id), so
# metainfo reports the length AFAS's OpenAPI gives it. Other text fields (free fields) hold 255.
_LENGTH_SOURCES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ItemCode": ("FbItemArticle", (), "ItCd"),
    "ParentItemCode": ("FbItemArticle", (), "ItCd"),
    "RelatedItemCode": ("FbItemArticle", (), "ItCd"),
    "Description": ("FbItemArticle", (), "Ds"),
    "ExtraDescription": ("FbItemArticle", (), "DsEx"),
    "ItemGroup": ("FbItemArticle", (), "Grp"),
    "GroupCode": ("FbItemArticle", (), "Grp"),
    "ParentGroupCode": ("FbItemArticle", (), "Grp"),
    "UnitId": ("FbItemArticle", (), "BiUn"),
    "VatGroup": ("FbItemArticle", (), "VaRc"),
    "DebtorId": ("KnSalesRelationOrg", (), "DbId"),
    "CompanyName": ("KnSalesRelationOrg", ("KnOrganisation",), "Nm"),
    "DebtorName": ("KnSalesRelationOrg", ("KnOrganisation",), "Nm"),
    "CocNumber": ("KnSalesRelationOrg", ("KnOrganisation",), "CcNr"),
    "Email": ("KnSalesRelationOrg", ("KnOrganisation",), "EmAd"),
    "Phone": ("KnSalesRelationOrg", ("KnOrganisation",), "TeNr"),
    "Mobile": ("KnSalesRelationOrg", ("KnOrganisation",), "MbNr"),
    "ContactFirstName": ("KnSalesRelationOrg", ("KnOrganisation", "KnContact", "KnPerson"), "FiNm"),
    "ContactLastName": ("KnSalesRelationOrg", ("KnOrganisation", "KnContact", "KnPerson"), "LaNm"),
    "Street": ("KnSalesRelationOrg", ("KnOrganisation", "KnBasicAddressAdr"), "Ad"),
    "HouseNumberAddition": ("KnSalesRelationOrg", ("KnOrganisation", "KnBasicAddressAdr"), "HmAd"),
    "PostalCode": ("KnSalesRelationOrg", ("KnOrganisation", "KnBasicAddressAdr"), "ZpCd"),
    "City": ("KnSalesRelationOrg", ("KnOrganisation", "KnBasicAddressAdr"), "Rs"),
    "Country": ("KnSalesRelationOrg", ("KnOrganisation", "KnBasicAddressAdr"), "CoId"),
    "VatNumber": ("KnSalesRelationOrg", (), "VaId"),
    "PaymentCondition": ("KnSalesRelationOrg", (), "PaCd"),
    "PriceGroup": ("KnSalesRelationOrg", (), "PrLs"),
    "CurrencyId": ("KnSalesRelationOrg", (), "CuId"),
    "OrderNumber": ("FbSales", (), "OrNu"),
    "DocumentNumber": ("FbSales", (), "OrNu"),
    "InvoiceNumber": ("FbSales", (), "OrNu"),
    "Reference": ("FbSales", (), "RfCs"),
    "PaymentMethod": ("FbSales", (), "PaTp"),
    "Warehouse": ("FbSales", (), "War"),
    "DeliveryNoteNumber": ("FbDeliveryNote", (), "OrNu"),
}
FREE_TEXT_LENGTH = 255


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def get_field_length(field_id: str, data_type: str) -> int:
    """The length AFAS's metainfo gives a GetConnector field (0 for numbers, dates and booleans)."""
    if data_type != "string":
        return 0
    source = _LENGTH_SOURCES.get(field_id) or _LENGTH_SOURCES.get(
        field_id.removeprefix("Billing").removeprefix("Delivery")
    )
    if source is None:
        return FREE_TEXT_LENGTH
    tree = update_connector_tree()[source[0]]
    for name in source[1]:
        tree = tree["objects"][name]
    return int(tree["fields"][source[2]]["length"] or FREE_TEXT_LENGTH)


def profit_error(message: str, status: int = 500) -> JSONResponse:
    return JSONResponse(
        {"externalMessage": message, "errorNumber": -2147220469, "profitLogReference": uuid.uuid4().hex.upper()},
        status_code=status,
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """Whatever goes wrong inside answers in Profit's error shape, never as plain text."""
    return profit_error(f"An unexpected error occurred ({type(exc).__name__}); see the log reference")


class AfasSandboxApp:
    def __init__(self, store: AfasStore) -> None:
        self.store = store
        self.updates = UpdateConnectors(store)
        # Per process, like the connection cap it checks: the most Profit calls served at once.
        self.in_flight = 0
        self.max_in_flight = 0

    def build(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_sandbox/health", self.health),
                Route("/_sandbox/rows/{connector}", self.sandbox_rows, methods=["GET", "POST", "DELETE"]),
                Route("/_sandbox/faults", self.sandbox_faults, methods=["GET", "PUT", "DELETE"]),
                Route("/_sandbox/access", self.sandbox_access, methods=["GET", "PUT"]),
                Route("/_sandbox/oauth", self.sandbox_oauth, methods=["PUT", "DELETE"]),
                Route("/_sandbox/calls", self.sandbox_calls, methods=["GET", "DELETE"]),
                Route("/_sandbox/images/{image_id:int}", self.sandbox_image, methods=["POST"]),
                Route("/_sandbox/files", self.sandbox_files, methods=["POST"]),
                Route("/{path:path}", self.profit, methods=["GET", "POST", "PUT", "DELETE"]),
            ],
            exception_handlers={Exception: unexpected_error},
        )

    # -- /_sandbox ---------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "connectors": {c: self.store.count(c) for c in self.store.specs}})

    async def sandbox_rows(self, request: Request) -> Response:
        connector = request.path_params["connector"]
        if connector not in self.store.specs:
            return JSONResponse({"error": f"unknown connector {connector}"}, status_code=404)
        if request.method == "GET":
            return JSONResponse({"rows": list(self.store.iter_all(connector))})
        body = await request.json()
        if request.method == "DELETE":
            return JSONResponse({"deleted": self.store.delete_rows(connector, body.get("where", {}))})
        rows = body if isinstance(body, list) else body["rows"]
        touch = True if isinstance(body, list) else bool(body.get("touch", True))
        count = await run_in_threadpool(self.store.upsert_rows, connector, rows, touch=touch)
        return JSONResponse({"upserted": count})

    async def sandbox_faults(self, request: Request) -> Response:
        return await faults_endpoint(self.store, request)

    async def sandbox_access(self, request: Request) -> Response:
        if request.method == "PUT":
            self.store.set_meta("allow_ips", (await request.json()).get("allow_ips"))
        return JSONResponse({"allow_ips": self.store.get_meta("allow_ips")})

    async def sandbox_oauth(self, request: Request) -> Response:
        """PUT {"seconds": n}: bearer token lifetime; DELETE: every bearer token expires now."""
        if request.method == "DELETE":
            self.store.set_meta("oauth_tokens", {})
        else:
            self.store.set_meta("oauth_seconds", float((await request.json())["seconds"]))
        return JSONResponse({"seconds": self.store.get_meta("oauth_seconds", 3600)})

    async def sandbox_calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.store.reset_counters("calls:")
            self.max_in_flight = 0
        counts = self.store.counters("calls:")
        return JSONResponse(
            {
                "total": counts.pop("total", 0),
                "connection_close": counts.pop("connection_close", 0),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "by_endpoint": counts,
            }
        )

    async def sandbox_image(self, request: Request) -> Response:
        """Replace an item's image, as a user uploading a new picture in Profit would."""
        image_id = request.path_params["image_id"]
        versions = self.store.get_meta("image_versions", {})
        versions[str(image_id)] = versions.get(str(image_id), 0) + 1
        self.store.set_meta("image_versions", versions)
        items = self.store.query(
            "AfasSf_Items", Query([[Condition("ImageId", Operator.EQ, str(image_id))]], [], 0, None)
        )
        now = format_row_datetime(datetime.now(AMSTERDAM))
        self.store.upsert_rows("AfasSf_Items", [{"ItemCode": i["ItemCode"], "ImageModifiedDate": now} for i in items])
        return JSONResponse({"version": versions[str(image_id)]})

    async def sandbox_files(self, request: Request) -> Response:
        body = await request.json()
        files = self.store.get_meta("files", {})
        files[body["path"]] = {
            "filename": body["filename"],
            "mimetype": body.get("mimetype", "application/octet-stream"),
            "filedata": body["filedata"],
        }
        self.store.set_meta("files", files)
        return JSONResponse({"ok": True})

    # -- /ProfitRestServices -------------------------------------------------------------------

    async def profit(self, request: Request) -> Response:
        segments = [unquote(s) for s in request.url.path.strip("/").split("/")]
        if not segments or segments[0].lower() != "profitrestservices":
            return Response(status_code=404)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._profit(request, segments)
        finally:
            self.in_flight -= 1

    async def _profit(self, request: Request, segments: list[str]) -> Response:
        self.store.increment("calls:total")
        self.store.increment(f"calls:{request.method} {'/'.join(segments[1:3])}")
        if request.headers.get("connection", "").lower() == "close":
            self.store.increment("calls:connection_close")
        refused = await self._faults(request)
        if refused is not None:
            return refused
        allow = self.store.get_meta("allow_ips")
        if allow and (request.client is None or request.client.host not in allow):
            return Response(status_code=403)
        if [part.lower() for part in segments[1:3]] == ["oauth", "token"] and request.method == "POST":
            return await self._oauth_token(request)
        auth = self._check_token(request.headers.get("authorization", ""))
        if auth is not None:
            return auth
        if len(request.url.query) + 1 > MAX_QUERY_LENGTH:
            return Response(status_code=404)
        return await self._dispatch(request, segments[1:])

    async def _faults(self, request: Request) -> Response | None:
        faults = self.store.get_meta("faults", {})
        if not faults:
            return None
        if faults.get("latency_ms"):
            await asyncio.sleep(faults["latency_ms"] / 1000)
        queue = faults.get("fail_next") or []
        path = request.url.path
        for index, fault in enumerate(queue):
            if fault.get("match", "") in path and fault.get("method", request.method) == request.method:
                queue.pop(index)
                self.store.set_meta("faults", {**faults, "fail_next": queue})
                return self._fault_response(int(fault.get("status", 500)), fault)
        roll = random.random()
        if roll < faults.get("error_rate_503", 0.0):
            return self._fault_response(503, faults)
        if roll < faults.get("error_rate_503", 0.0) + faults.get("error_rate_500", 0.0):
            return self._fault_response(500, faults)
        return None

    @staticmethod
    def _fault_response(status: int, fault: dict[str, Any]) -> Response:
        if status == 503:
            return JSONResponse(
                {"error": {"message": "Profit is in maintenance"}, "retry_after": fault.get("retry_after", 0)},
                status_code=503,
            )
        if status == 500:
            return profit_error(fault.get("message", "Journal is blocked by another user"))
        return Response(status_code=status)

    async def _oauth_token(self, request: Request) -> Response:
        """Client credentials, as newer Profit environments offer next to App Connector tokens."""
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        client = self.store.get_meta("oauth_client") or {}
        if (
            form.get("grant_type") != "client_credentials"
            or not client
            or (form.get("client_id"), form.get("client_secret")) != (client["client_id"], client["client_secret"])
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(32)
        tokens = self.store.get_meta("oauth_tokens", {})
        tokens[token] = time.time()
        self.store.set_meta("oauth_tokens", tokens)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.store.get_meta("oauth_seconds", 3600)),
            }
        )

    def _check_token(self, header: str) -> Response | None:
        expected = self.store.get_meta("token")
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            issued = self.store.get_meta("oauth_tokens", {}).get(value)
            lifetime = float(self.store.get_meta("oauth_seconds", 3600))
            return None if issued is not None and time.time() - issued <= lifetime else Response(status_code=401)
        if scheme != "AfasToken" or not value:
            return Response(status_code=401)
        try:
            xml = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            # Profit 6+ answers a token that is not base64 with a server error, not a 401.
            return profit_error("Token is not base64-encoded")
        match = _TOKEN_DATA.search(xml)
        if not match or match.group(1).lower() != str(expected).lower():
            return Response(status_code=401)
        return None

    async def _dispatch(self, request: Request, rest: list[str]) -> Response:
        head = rest[0].lower() if rest else ""
        try:
            if head == "profitversion" and request.method == "GET":
                return JSONResponse({"version": PROFIT_VERSION})
            if head == "metainfo" and request.method == "GET":
                return self._metainfo(rest[1:])
            if head == "imageconnector" and request.method == "GET" and len(rest) == 2:
                return self._image(rest[1], request.query_params.get("format", "0"))
            if head in ("subjectconnector", "fileconnector") and request.method == "GET" and len(rest) == 3:
                return self._file(f"{head}/{rest[1]}/{rest[2]}")
            if head == "connectors" and len(rest) >= 2:
                return await self._connector(request, rest[1:])
        except ProfitError as exc:
            return profit_error(str(exc))
        return Response(status_code=404)

    async def _connector(self, request: Request, rest: list[str]) -> Response:
        connector = rest[0]
        if request.method == "GET" and len(rest) == 1:
            return await run_in_threadpool(self._get_connector, connector, request.url.query)
        if request.method == "DELETE":
            if len(rest) != 4:
                return Response(status_code=404)
            key_field = rest[2].removeprefix("@")
            self.updates.delete(connector, key_field, rest[3])
            return Response(status_code=200)
        if request.method in ("POST", "PUT") and len(rest) in (1, 2):
            try:
                body = json.loads(await request.body(), parse_constant=_refuse_constant)
            except ValueError:
                return JSONResponse({"message": "Invalid json"}, status_code=400)
            sub_object = rest[1] if len(rest) == 2 else None
            results = await run_in_threadpool(self.updates.handle, request.method, connector, sub_object, body)
            if request.method == "PUT":
                return Response(status_code=200)
            return JSONResponse({"results": results}, status_code=201)
        return Response(status_code=404)

    def _get_connector(self, connector: str, raw_query: str) -> Response:
        spec = self.store.specs.get(connector)
        if spec is None:
            # Unconfirmed which status Profit uses here; its message is documented, 500 is its usual.
            return profit_error("GetConnector not supported for this app or the user is not authorized")
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        try:
            skip = int(params.get("skip", "0"))
            take = int(params.get("take", str(DEFAULT_TAKE)))
        except ValueError:
            return profit_error("skip and take must be whole numbers")
        if take == -1 and skip > 0:
            return profit_error("When take is -1, skip must be -1 or 0")
        columns = len(spec.fields)
        if take != -1 and take * columns > MAX_CELLS:
            return profit_error("Out of memory")
        try:
            order = [
                (f.removeprefix("-"), f.startswith("-")) for f in params.get("orderbyfieldids", "").split(",") if f
            ]
            groups = _parse_filters(params)
            rows = self.store.query(connector, Query(groups, order, skip, None if take == -1 else take))
        except ConnectorFieldNotFound as exc:
            return profit_error(str(exc))
        except (FilterValueInvalid, ValueError) as exc:
            return profit_error(str(exc))
        if take == -1 and len(rows) * columns > MAX_CELLS:
            return profit_error("Out of memory")
        return JSONResponse({"skip": skip, "take": take, "rows": rows})

    def _metainfo(self, rest: list[str]) -> Response:
        if not rest:
            tree = update_connector_tree()
            return JSONResponse(
                {
                    "updateConnectors": [{"id": c, "description": c} for c in sorted(tree)],
                    "getConnectors": [{"id": s.id, "description": s.description} for s in self.store.specs.values()],
                    "info": {
                        "envid": "O12345AA",
                        "appName": "afas-sf sandbox",
                        "group": "afas-sf",
                        "tokenExpiry": None,
                    },
                }
            )
        if len(rest) == 2 and rest[0].lower() == "get":
            spec = self.store.specs.get(rest[1])
            if spec is None:
                return profit_error("GetConnector not supported for this app or the user is not authorized")
            return JSONResponse(
                {
                    "name": spec.id,
                    "description": spec.description,
                    "fields": [
                        {
                            "id": f.id,
                            "fieldId": f.id,
                            "dataType": f.data_type.value,
                            "label": f.label,
                            "length": f.length if f.length is not None else get_field_length(f.id, f.data_type.value),
                            "controlType": 1,
                            "decimals": 2 if f.data_type.value == "decimal" else 0,
                            "decimalsFieldId": "",
                        }
                        for f in spec.fields
                    ],
                }
            )
        if len(rest) == 2 and rest[0].lower() == "update":
            tree = update_connector_tree().get(rest[1])
            if tree is None:
                return profit_error("UpdateConnector not supported for this app or the user is not authorized")
            root = tree["root"]
            return JSONResponse(
                {
                    "name": rest[1],
                    "description": rest[1],
                    **_describe_object(rest[1], root, tree, KEY_ON_UPDATE.get(rest[1])),
                }
            )
        return Response(status_code=404)

    def _image(self, image_id: str, image_format: str) -> Response:
        if not image_id.isdigit() or not self.store.query(
            "AfasSf_Items", Query([[Condition("ImageId", Operator.EQ, image_id)]], [], 0, 1)
        ):
            return Response(status_code=404)
        version = self.store.get_meta("image_versions", {}).get(image_id, 0)
        size = {"1": 4, "2": 6}.get(image_format, 8)
        data = demo_data.image_bytes(int(image_id), version, size=size)
        return JSONResponse({"filedata": base64.b64encode(data).decode("ascii"), "mimetype": "image/png"})

    def _file(self, path: str) -> Response:
        found = self.store.get_meta("files", {}).get(path)
        if found is None:
            return Response(status_code=404)
        return JSONResponse(found)


def _describe_object(connector: str, name: str, tree: dict[str, Any], key: str | None) -> dict[str, Any]:
    mandatory = MANDATORY_ON_INSERT.get((connector, name), ())
    return {
        "fields": [
            {
                "fieldId": field_id,
                "primaryKey": field_id == key,
                "dataType": spec["type"] or "string",
                "label": spec["label"],
                "mandatory": field_id in mandatory,
                "length": spec["length"] or 0,
                "values": [{"id": code, "description": code} for code in spec.get("enum") or []],
            }
            for field_id, spec in sorted(tree["fields"].items())
        ],
        "objects": [
            {"name": child, **_describe_object(connector, child, subtree, None)}
            for child, subtree in sorted(tree["objects"].items())
        ],
    }


def _parse_filters(params: dict[str, str]) -> list[list[Condition]]:
    if "filterjson" in params:
        document = json.loads(params["filterjson"])
        filters = document["Filters"]["Filter"]
        filters = filters if isinstance(filters, list) else [filters]
        groups = []
        for entry in filters:
            fields = entry["Field"] if isinstance(entry["Field"], list) else [entry["Field"]]
            groups.append(
                [Condition(f["@FieldId"], Operator(int(f["@OperatorType"])), f.get("#text", "")) for f in fields]
            )
        return groups
    field_ids = params.get("filterfieldids", "")
    if not field_ids:
        return []
    values = params.get("filtervalues", "")
    operators = params.get("operatortypes", "")
    field_groups, value_groups, operator_groups = field_ids.split(";"), values.split(";"), operators.split(";")
    if not len(field_groups) == len(value_groups) == len(operator_groups):
        raise ValueError("filterfieldids, filtervalues and operatortypes do not match")
    groups = []
    for fields, group_values, ops in zip(field_groups, value_groups, operator_groups, strict=True):
        f, v, o = fields.split(","), group_values.split(","), ops.split(",")
        if not len(f) == len(v) == len(o):
            raise ValueError("filterfieldids, filtervalues and operatortypes do not match")
        groups.append([Condition(field, Operator(int(op)), value) for field, value, op in zip(f, v, o, strict=True)])
    return groups
