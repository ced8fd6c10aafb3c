"""The OAuth flows, posted to `SF_LOGIN_URL` by the project itself.

simple-salesforce builds its login URLs from a domain that must end in `.salesforce.com`; posting to
the configured login URL ourselves works for My Domain URLs, scratch orgs and the sandbox alike, and
simple-salesforce then gets what it needs for a direct session: an instance URL and a token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
import requests

from afas_sf_assets.salesforce.errors import SalesforceAuthError, SalesforceConnectionError, details_from
from afas_sf_assets.salesforce.settings import AuthFlow, SalesforceSettings

JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Session:
    instance_url: str
    access_token: str

    def __repr__(self) -> str:
        return f"Session(instance_url={self.instance_url!r}, access_token=***)"


def _secret(value: object) -> str:
    return value.get_secret_value() if value is not None and hasattr(value, "get_secret_value") else str(value or "")


def _audience(login_url: str) -> str:
    # Salesforce wants the login host as audience: login/test for production/sandbox orgs, else the URL given.
    return login_url.rstrip("/")


def obtain_session(settings: SalesforceSettings, http: requests.Session) -> Session:
    """Log in with the configured flow; `token` returns the given token as is (it cannot be renewed)."""
    if settings.auth is AuthFlow.TOKEN:
        return Session(str(settings.instance_url).rstrip("/"), _secret(settings.access_token))
    url = settings.login_url.rstrip("/") + "/services/oauth2/token"
    auth: tuple[str, str] | None = None
    if settings.auth is AuthFlow.CLIENT_CREDENTIALS:
        data = {"grant_type": "client_credentials"}
        auth = (str(settings.consumer_key), _secret(settings.consumer_secret))
    elif settings.auth is AuthFlow.PASSWORD:
        data = {
            "grant_type": "password",
            "client_id": str(settings.consumer_key),
            "client_secret": _secret(settings.consumer_secret),
            "username": str(settings.username),
            "password": _secret(settings.password) + _secret(settings.security_token),
        }
    else:
        key = settings.private_key_file.read_text()  # type: ignore[union-attr]
        claims = {
            "iss": settings.consumer_key,
            "sub": settings.username,
            "aud": _audience(settings.login_url),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        data = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt.encode(claims, key, algorithm="RS256"),
        }
    try:
        response = http.post(url, data=data, auth=auth, timeout=settings.timeout)
    except requests.RequestException as exc:
        raise SalesforceConnectionError(
            f"no answer from the Salesforce login at {url} ({type(exc).__name__})", url=url
        ) from None
    if response.status_code != 200:
        try:
            body = response.json()
        except ValueError:
            body = {}
        raise SalesforceAuthError(
            f"Salesforce login ({settings.auth.value}) refused with HTTP {response.status_code}",
            status=response.status_code,
            url=url,
            errors=details_from(body),
        )
    payload = response.json()
    return Session(payload["instance_url"].rstrip("/"), payload["access_token"])
