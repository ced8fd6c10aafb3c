"""AFAS connection settings, read from `AFAS_*` environment variables."""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from afas_sf_assets.errors import ConfigurationError


class EnvironmentType(StrEnum):
    PRODUCTION = "production"
    TEST = "test"
    ACCEPT = "accept"


_HOST_BY_TYPE = {
    EnvironmentType.PRODUCTION: "rest.afas.online",
    EnvironmentType.TEST: "resttest.afas.online",
    EnvironmentType.ACCEPT: "restaccept.afas.online",
}
_HEX_DATA = re.compile(r"^[0-9A-Fa-f]{64}$")
_XML_DATA = re.compile(r"<data>\s*([0-9A-Fa-f]{64})\s*</data>")


def authorization_value(raw_token: str) -> str:
    """The `Authorization` header value for a token given in any of the forms AFAS hands out.

    Accepts the bare 64-hex data part, the `<token>` XML, or the XML already base64-encoded.
    Since Profit 6 only the base64 form is accepted on the wire.
    """
    token = raw_token.strip()
    if _HEX_DATA.match(token):
        xml = f"<token><version>1</version><data>{token}</data></token>"
    elif token.startswith("<"):
        if not _XML_DATA.search(token):
            raise ConfigurationError("AFAS_TOKEN looks like XML but has no 64-hex <data> part")
        xml = token
    else:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                "AFAS_TOKEN is neither 64 hex characters, the <token> XML, nor its base64 form"
            ) from exc
        if not _XML_DATA.search(decoded):
            raise ConfigurationError("AFAS_TOKEN decodes from base64 but holds no <token> XML")
        xml = decoded
    return "AfasToken " + base64.b64encode(xml.encode("utf-8")).decode("ascii")


class AfasSettings(BaseSettings):
    """Where AFAS is and how to authenticate. `base_url` wins over environment number and type."""

    model_config = SettingsConfigDict(env_prefix="AFAS_", extra="ignore")

    environment: str | None = Field(default=None, pattern=r"^\d{4,6}$")
    environment_type: EnvironmentType = EnvironmentType.PRODUCTION
    base_url: str | None = None
    # `token` (an App Connector token, the usual) or `oauth` (client credentials, newer environments).
    auth: Literal["token", "oauth"] = "token"
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    ca_bundle: Path | None = None
    integration_id: str | None = None
    language: str = "en-us"
    connect_timeout: float = 10.0
    # AFAS itself gives up after 900 s; a read longer than that will never answer.
    read_timeout: float = 300.0
    page_size: int = Field(default=1000, ge=1, le=10_000)
    max_in_flight: int = Field(default=8, ge=1, le=8)

    @model_validator(mode="after")
    def _needs_a_location(self) -> AfasSettings:
        if not self.base_url and not self.environment:
            raise ValueError("set AFAS_ENVIRONMENT (the environment number) or AFAS_BASE_URL")
        if self.auth == "token" and self.token is None:
            raise ValueError("set AFAS_TOKEN (or AFAS_AUTH=oauth with AFAS_CLIENT_ID and AFAS_CLIENT_SECRET)")
        if self.auth == "oauth" and not (self.client_id and self.client_secret):
            raise ValueError("AFAS_AUTH=oauth needs AFAS_CLIENT_ID and AFAS_CLIENT_SECRET")
        return self

    @property
    def resolved_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{self.environment}.{_HOST_BY_TYPE[self.environment_type]}/ProfitRestServices"

    def authorization(self) -> str:
        """The token's header value (the OAuth flow gets its bearer token from AFAS at run time)."""
        if self.token is None:
            raise ConfigurationError("AFAS_TOKEN is not set")
        return authorization_value(self.token.get_secret_value())
