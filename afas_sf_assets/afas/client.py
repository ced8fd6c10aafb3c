"""AFAS Profit REST client on httpx: token auth, keyset paging, update connectors, files.

Every call goes through `_request`, which owns timeouts, the in-flight cap AFAS asks for, typed
errors and retries. The client knows nothing of Dagster or of the sandbox: only the base URL and
the CA bundle tell them apart.
"""

from __future__ import annotations

import base64
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from afas_sf_assets.afas.errors import (
    AfasConnectionError,
    AfasError,
    AfasServerError,
    AfasStatusError,
    AfasUnavailableError,
    error_for_status,
)
from afas_sf_assets.afas.filters import Where, after_key
from afas_sf_assets.afas.models import (
    FileDownload,
    GetConnectorInfo,
    ImageFormat,
    MetaInfo,
    Row,
    UpdateConnectorInfo,
)
from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.retrying import RetryPolicy

logger = logging.getLogger(__name__)

# AFAS answers 404 to a query string longer than 2,049 characters counted from the `?`;
# staying one below keeps clear of any off-by-one in how AFAS counts.
MAX_QUERY_LENGTH = 2048

# AFAS answers every Profit error with 500 and a generic errorNumber, so the message decides.
# These no retry will cure: the same request fails the same way.
_PERMANENT_500_MARKERS = ("not found", "not supported", "not authorized", "out of memory", "niet gevonden")
# These pass: another user holds a lock. Writes are retried only for these, since most failed
# writes are validation errors; reads are retried for anything not known to be permanent.
_TRANSIENT_500_MARKERS = ("by another user", "locked", "deadlock", "try again", "probeer het later")
# A timed-out request may still be running inside Profit: repeating a write could book it twice.
_STILL_RUNNING_MARKER = "maximum duration"

Element = Mapping[str, Any]
# Update connectors whose body root is not named after the connector.
ROOT_OBJECT = {"FiEntries": "FiEntryPar"}


def element(
    fields: Mapping[str, Any] | None = None,
    *,
    key: Mapping[str, Any] | None = None,
    objects: Mapping[str, Element | Sequence[Element]] | None = None,
) -> dict[str, Any]:
    """One `Element` of an update body: `@Key` attributes, `Fields`, and nested `Objects`."""
    built: dict[str, Any] = {f"@{name}": value for name, value in (key or {}).items()}
    if fields:
        built["Fields"] = dict(fields)
    if objects:
        built["Objects"] = [
            {name: {"Element": list(value) if isinstance(value, Sequence) else value}}
            for name, value in objects.items()
        ]
    return built


def envelope(connector: str, elements: Element | Sequence[Element]) -> dict[str, Any]:
    """The `{"Conn": {"Element": …}}` body; a list of elements writes several records in one go."""
    body = list(elements) if isinstance(elements, Sequence) else dict(elements)
    return {connector: {"Element": body}}


class AfasClient:
    """Talks to one AFAS Profit environment. Thread-safe; share one per process."""

    def __init__(
        self,
        settings: AfasSettings,
        *,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._slots = threading.BoundedSemaphore(settings.max_in_flight)
        self._calls = 0
        self._calls_lock = threading.Lock()
        self._bearer: str | None = None
        self._auth_lock = threading.Lock()
        headers = {
            "Accept": "application/json",
            "Accept-Language": settings.language,
        }
        if settings.integration_id:
            headers["IntegrationId"] = settings.integration_id
        if settings.auth == "token":
            headers["Authorization"] = settings.authorization()
        verify: ssl.SSLContext | bool = True
        if settings.ca_bundle:
            verify = ssl.create_default_context(cafile=str(settings.ca_bundle))
        self._http = httpx.Client(
            base_url=settings.resolved_base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            verify=verify,
            limits=httpx.Limits(max_connections=settings.max_in_flight),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AfasClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def calls(self) -> int:
        """HTTP calls sent so far, retries included."""
        return self._calls

    # -- reading -----------------------------------------------------------------------------

    def iter_rows(
        self,
        connector: str,
        *,
        key: Sequence[str],
        where: Where | None = None,
        page_size: int | None = None,
    ) -> Iterator[Row]:
        """Every row of `connector` matching `where`, in `key` order, page by page.

        Pages by keyset (`key > last seen`), not by skip, so rows inserted or changed while we read
        are neither skipped nor repeated and a page costs the same at row 1 and row 1,000,000.
        `key` must identify a row. Filters too long for one query string are split into several
        queries over disjoint parts of the OR groups; each part then comes in key order.
        """
        if not key:
            raise ValueError("iter_rows needs the key field(s) to page on")
        take = page_size or self.settings.page_size
        base = where or Where()
        pending: list[tuple[Where, tuple[Any, ...] | None]] = [(base, None)]
        while pending:
            part, last = pending.pop(0)
            while True:
                effective = part if last is None else part.and_(after_key(key, last))
                params = {
                    "skip": "0",
                    "take": str(take),
                    "orderbyfieldids": ",".join(key),
                    **effective.to_params(),
                }
                if len("?" + urlencode(params)) > MAX_QUERY_LENGTH:
                    if len(part.groups) < 2:
                        raise AfasError(
                            f"filter on {connector} does not fit in AFAS's 2,049-character query string "
                            "even as a single condition group"
                        )
                    half = len(part.groups) // 2
                    pending[:0] = [(Where(part.groups[:half]), last), (Where(part.groups[half:]), last)]
                    break
                rows = self._get_json(f"connectors/{connector}", params).get("rows") or []
                yield from rows
                if len(rows) < take:
                    break
                last = tuple(rows[-1].get(field) for field in key)

    def latest_rows(self, connector: str, field: str, *, take: int = 1, where: Where | None = None) -> list[Row]:
        """The rows with the highest `field` (e.g. the newest changes): one call, ordered descending."""
        params = {"skip": "0", "take": str(take), "orderbyfieldids": f"-{field}", **(where or Where()).to_params()}
        return list(self._get_json(f"connectors/{connector}", params).get("rows") or [])

    def latest_value(self, connector: str, field: str, *, where: Where | None = None) -> Any:
        """The highest value of `field` (e.g. a modification date)."""
        rows = self.latest_rows(connector, field, where=where)
        return rows[0].get(field) if rows else None

    # -- metainfo ----------------------------------------------------------------------------

    def profit_version(self) -> str:
        return str(self._get_json("profitversion").get("version", ""))

    def metainfo(self) -> MetaInfo:
        return MetaInfo.model_validate(self._get_json("metainfo"))

    def get_connector_info(self, connector: str) -> GetConnectorInfo:
        return GetConnectorInfo.model_validate(self._get_json(f"metainfo/get/{connector}"))

    def update_connector_info(self, connector: str) -> UpdateConnectorInfo:
        return UpdateConnectorInfo.model_validate(self._get_json(f"metainfo/update/{connector}"))

    # -- writing -----------------------------------------------------------------------------

    def insert(
        self, connector: str, elements: Element | Sequence[Element], *, sub_object: str | None = None
    ) -> dict[str, Any]:
        """POST a new record; the keys AFAS made.

        With `sub_object` (e.g. `FbSalesLines`) the element names an existing record by its key
        fields and carries the new sub-records in its `Objects`, as AFAS's spec shows.
        """
        path = f"connectors/{connector}" + (f"/{sub_object}" if sub_object else "")
        return self._write("POST", path, envelope(ROOT_OBJECT.get(connector, connector), elements))

    def update(self, connector: str, elements: Element | Sequence[Element]) -> dict[str, Any]:
        """PUT changes: fields sent are changed, `""` clears one, fields left out stay."""
        return self._write("PUT", f"connectors/{connector}", envelope(ROOT_OBJECT.get(connector, connector), elements))

    def delete(self, connector: str, key_field: str, value: str | int, *, element_name: str | None = None) -> None:
        path = f"connectors/{connector}/{element_name or connector}/@{key_field}/{value}"
        self._request("DELETE", path)

    def _write(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request(method, path, json_body=body)
        if not response.content.strip():
            return {}
        results = response.json().get("results") or {}
        # AFAS nests the new keys under the connector name; callers want the keys themselves.
        if isinstance(results, dict) and len(results) == 1:
            (inner,) = results.values()
            if isinstance(inner, dict):
                return inner
        return results

    # -- files -------------------------------------------------------------------------------

    def get_image(self, image_id: str | int, *, image_format: ImageFormat = ImageFormat.ORIGINAL) -> FileDownload:
        payload = self._get_json(f"ImageConnector/{image_id}", {"format": str(int(image_format))})
        return _file_download(payload)

    def get_subject_attachment(self, subject_id: str | int, file_id: str) -> FileDownload:
        return _file_download(self._get_json(f"SubjectConnector/{subject_id}/{file_id}"))

    def get_file(self, file_guid: str, filename: str) -> FileDownload:
        return _file_download(self._get_json(f"fileconnector/{file_guid}/{filename}"))

    # -- transport ---------------------------------------------------------------------------

    def _oauth_header(self) -> dict[str, str] | None:
        if self.settings.auth != "oauth":
            return None
        with self._auth_lock:
            if self._bearer is None:
                self._bearer = self._fetch_bearer()
            return {"Authorization": f"Bearer {self._bearer}"}

    def _fetch_bearer(self) -> str:
        secret = self.settings.client_secret.get_secret_value() if self.settings.client_secret else ""
        try:
            response = self._http.post(
                "oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id or "",
                    "client_secret": secret,
                },
            )
        except httpx.TransportError as exc:
            raise AfasConnectionError(f"POST oauth/token: no answer from AFAS ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise _status_error("POST", "oauth/token", response)
        return str(response.json()["access_token"])

    def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params).json()

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        attempt = 0
        renewed = False
        while True:
            attempt += 1
            error: AfasError
            try:
                with self._slots:
                    with self._calls_lock:
                        self._calls += 1
                    response = self._http.request(
                        method, path, params=params, json=json_body, headers=self._oauth_header()
                    )
            except httpx.TransportError as exc:
                error = AfasConnectionError(
                    f"{method} {path}: no answer from AFAS ({type(exc).__name__})",
                    url=_safe_url(self._http.base_url, path),
                )
                never_arrived = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                retryable = never_arrived or method != "POST"
            else:
                if response.is_success:
                    return response
                if response.status_code == 401 and self.settings.auth == "oauth" and not renewed:
                    # A bearer token expired: fetch a new one once, and try again.
                    self._bearer, renewed = None, True
                    attempt -= 1
                    continue
                error = _status_error(method, path, response)
                retryable = _is_retryable(method, error)
            delay = self.retry.delay(attempt, error.retry_after) if retryable else None
            if delay is None:
                raise error
            logger.warning(
                "AFAS %s %s failed (%s); attempt %d, retrying in %.1fs",
                method,
                path,
                error.status or "no answer",
                attempt,
                delay,
            )
            time.sleep(delay)


def _is_retryable(method: str, error: AfasError) -> bool:
    if isinstance(error, AfasUnavailableError):
        return True
    if not isinstance(error, AfasServerError):
        return False
    message = (error.external_message or "").lower()
    if any(marker in message for marker in _PERMANENT_500_MARKERS) or _STILL_RUNNING_MARKER in message:
        return False
    return method == "GET" or any(marker in message for marker in _TRANSIENT_500_MARKERS)


def _status_error(method: str, path: str, response: httpx.Response) -> AfasStatusError:
    body: Any = None
    if response.content.strip():
        try:
            body = response.json()
        except ValueError:
            body = None
    details = body if isinstance(body, dict) else {}
    external = details.get("externalMessage") or details.get("message")
    if external is None and isinstance(details.get("error"), dict):
        external = details["error"].get("message")
    retry_after = details.get("retry_after")
    if retry_after is None and response.headers.get("Retry-After", "").isdigit():
        retry_after = response.headers["Retry-After"]
    cls = error_for_status(response.status_code)
    return cls(
        f"AFAS {method} {path} answered HTTP {response.status_code}",
        status=response.status_code,
        url=_safe_url(response.request.url, ""),
        external_message=str(external) if external else None,
        profit_log_reference=details.get("profitLogReference"),
        error_number=details.get("errorNumber"),
        retry_after=float(retry_after) if retry_after is not None else None,
    )


def _safe_url(base: httpx.URL, path: str) -> str:
    # Query strings can hold filter values (e-mail addresses); the path is enough to locate a call.
    url = base.join(path) if path else base
    return str(url.copy_with(query=None))


def _file_download(payload: dict[str, Any]) -> FileDownload:
    return FileDownload(
        filename=payload.get("filename"),
        mimetype=payload.get("mimetype"),
        data=base64.b64decode(payload.get("filedata") or ""),
    )
