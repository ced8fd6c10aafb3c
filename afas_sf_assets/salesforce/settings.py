"""Salesforce connection settings, read from `SF_*` environment variables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthFlow(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    JWT = "jwt"
    PASSWORD = "password"
    TOKEN = "token"


_NEEDS: dict[AuthFlow, tuple[str, ...]] = {
    AuthFlow.CLIENT_CREDENTIALS: ("consumer_key", "consumer_secret"),
    AuthFlow.JWT: ("consumer_key", "username", "private_key_file"),
    AuthFlow.PASSWORD: ("consumer_key", "consumer_secret", "username", "password"),
    AuthFlow.TOKEN: ("instance_url", "access_token"),
}


class SalesforceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SF_", extra="ignore")

    auth: AuthFlow = AuthFlow.CLIENT_CREDENTIALS
    login_url: str = "https://login.salesforce.com"
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key_file: Path | None = None
    instance_url: str | None = None
    access_token: SecretStr | None = None
    ca_bundle: Path | None = None
    api_version: str = Field(default="62.0", pattern=r"^\d+\.\d$")
    timeout: float = 120.0
    bulk_threshold: int = Field(default=2000, ge=1)
    bulk_poll_seconds: float = Field(default=0.25, gt=0)
    bulk_timeout_seconds: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _complete_for_the_flow(self) -> SalesforceSettings:
        missing = [f"SF_{name.upper()}" for name in _NEEDS[self.auth] if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"SF_AUTH={self.auth.value} needs {', '.join(missing)}")
        return self
