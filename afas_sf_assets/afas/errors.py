"""AFAS Profit errors: one base carrying what AFAS said, one subclass per meaning.

AFAS answers errors as HTTP 500 with `{"externalMessage", "errorNumber", "profitLogReference"}`
(errorNumber is generic, so it is kept but never branched on), 401/403 with an empty body, and 503
during maintenance with `{"error": {...}, "retry_after": seconds}`.
"""

from __future__ import annotations

from typing import ClassVar

from afas_sf_assets.errors import AfasSfError


class AfasError(AfasSfError):
    """Something went wrong talking to AFAS Profit. Never carries the token."""

    transient: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        external_message: str | None = None,
        profit_log_reference: str | None = None,
        error_number: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.url = url
        self.external_message = external_message
        self.profit_log_reference = profit_log_reference
        self.error_number = error_number
        self.retry_after = retry_after
        parts = [message]
        if external_message:
            parts.append(f"AFAS says: {external_message}")
        if profit_log_reference:
            parts.append(f"profitLogReference {profit_log_reference}")
        super().__init__(" — ".join(parts))


class AfasConnectionError(AfasError):
    """No HTTP answer at all: DNS, refused connection, TLS, timeout."""

    transient = True


class AfasStatusError(AfasError):
    """AFAS answered with an error status."""


class AfasBadRequestError(AfasStatusError):
    """400: the request itself is wrong (e.g. malformed JSON)."""


class AfasAuthenticationError(AfasStatusError):
    """401: the token is missing, malformed or revoked."""


class AfasForbiddenError(AfasStatusError):
    """403: the App Connector's IP restriction refused this caller."""


class AfasNotFoundError(AfasStatusError):
    """404: unknown connector or record, or a query string over 2,049 characters."""


class AfasServerError(AfasStatusError):
    """500: a Profit error (validation, missing field) or a passing one (journal locked)."""

    transient = True


class AfasUnavailableError(AfasStatusError):
    """503: maintenance; `retry_after` says when to come back."""

    transient = True


STATUS_ERRORS: dict[int, type[AfasStatusError]] = {
    400: AfasBadRequestError,
    401: AfasAuthenticationError,
    403: AfasForbiddenError,
    404: AfasNotFoundError,
    500: AfasServerError,
    503: AfasUnavailableError,
}


def error_for_status(status: int) -> type[AfasStatusError]:
    return STATUS_ERRORS.get(status, AfasServerError if status >= 500 else AfasStatusError)
