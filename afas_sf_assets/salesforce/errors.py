"""Salesforce errors: one base carrying status, url and Salesforce's error list; a subclass per meaning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from afas_sf_assets.errors import AfasSfError


@dataclass(frozen=True)
class SfErrorDetail:
    code: str
    message: str
    fields: tuple[str, ...] = ()


class SalesforceError(AfasSfError):
    transient: ClassVar[bool] = False

    def __init__(
        self, message: str, *, status: int | None = None, url: str | None = None, errors: tuple[SfErrorDetail, ...] = ()
    ) -> None:
        self.status = status
        self.url = url
        self.errors = errors
        detail = "; ".join(f"{e.code}: {e.message}" for e in errors)
        super().__init__(f"{message} — {detail}" if detail else message)

    @property
    def code(self) -> str | None:
        return self.errors[0].code if self.errors else None


class SalesforceConnectionError(SalesforceError):
    """No HTTP answer: refused connection, TLS failure, timeout."""

    transient = True


class SalesforceAuthError(SalesforceError):
    """Login refused, or a session that cannot be renewed."""


class SalesforceLimitExceeded(SalesforceError):
    """REQUEST_LIMIT_EXCEEDED: the org's daily API allocation is spent; nothing to retry until it resets."""


class SalesforceRequestError(SalesforceError):
    """Salesforce refused the request (4xx) for its content."""


class SalesforceServerError(SalesforceError):
    """5xx: Salesforce had a problem; retried with backoff."""

    transient = True


class SalesforceSchemaError(SalesforceError):
    """The org lacks objects or fields the project needs; lists every one of them."""

    def __init__(self, missing: dict[str, list[str]], problems: list[str] | None = None) -> None:
        self.missing = missing
        self.problems = problems or []
        lines = [
            f"{obj}: {'the object itself' if not fields else ', '.join(fields)}" for obj, fields in missing.items()
        ]
        parts = ["The Salesforce org lacks what afas-sf needs — " + "; ".join(lines)] if lines else []
        if self.problems:
            parts.append("The mapping does not fit the org's fields — " + "; ".join(self.problems))
        super().__init__("\n".join(parts))


class SalesforceBulkJobError(SalesforceError):
    """A Bulk API 2.0 job failed as a whole, was aborted, or did not finish in time."""

    def __init__(self, message: str, *, job_id: str | None = None, state: str | None = None) -> None:
        self.job_id = job_id
        self.state = state
        known = ", ".join(part for part in (job_id and f"job {job_id}", state and f"state {state}") if part)
        super().__init__(f"{message} ({known})" if known else message)


def details_from(content: Any, status: int | None = None) -> tuple[SfErrorDetail, ...]:
    """Salesforce's `[{"errorCode","message","fields"}]` (or a collections `errors[]`) as details; a page of
    HTML (the front end's `<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>`) as its text."""
    if isinstance(content, str) and content.strip():
        text = " ".join(re.sub(r"<[^>]+>", " ", content).split())[:300]
        return (SfErrorDetail(f"HTTP_{status}" if status else "UNKNOWN", text),)
    items = content if isinstance(content, list) else [content] if isinstance(content, dict) else []
    out = []
    for item in items:
        if isinstance(item, dict):
            code = item.get("errorCode") or item.get("statusCode") or item.get("error") or "UNKNOWN"
            message = item.get("message") or item.get("error_description") or ""
            out.append(SfErrorDetail(str(code), str(message), tuple(item.get("fields") or ())))
    return tuple(out)
