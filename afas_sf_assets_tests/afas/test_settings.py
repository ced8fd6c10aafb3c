import base64

import pytest
from pydantic import ValidationError

from afas_sf_assets.afas.settings import AfasSettings, authorization_value
from afas_sf_assets.errors import ConfigurationError

HEX = "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90"
XML = f"<token><version>1</version><data>{HEX}</data></token>"
EXPECTED = "AfasToken " + base64.b64encode(XML.encode()).decode()


@pytest.mark.parametrize(
    "raw",
    [
        HEX,  # the data part alone, as AFAS shows it in the App Connector screen
        XML,
        XML + "\r\n",  # copied from a file with Windows line endings
        base64.b64encode(XML.encode()).decode(),  # already encoded
        "  " + HEX + "\n",
    ],
)
def test_every_token_form_gives_the_base64_header(raw: str) -> None:
    assert authorization_value(raw) == EXPECTED


@pytest.mark.parametrize("raw", ["not-a-token", "<token><data>short</data></token>", base64.b64encode(b"hi").decode()])
def test_bad_tokens_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        authorization_value(raw)
    assert raw not in str(caught.value)
    assert "AFAS_TOKEN" in str(caught.value)


@pytest.mark.parametrize(
    ("environment_type", "host"),
    [("production", "rest.afas.online"), ("test", "resttest.afas.online"), ("accept", "restaccept.afas.online")],
)
def test_urls_per_environment_type(environment_type: str, host: str) -> None:
    settings = AfasSettings(environment="12345", environment_type=environment_type, token=HEX)
    assert settings.resolved_base_url == f"https://12345.{host}/ProfitRestServices"


def test_base_url_wins_and_loses_its_trailing_slash() -> None:
    settings = AfasSettings(environment="12345", base_url="https://127.0.0.1:9/ProfitRestServices/", token=HEX)
    assert settings.resolved_base_url == "https://127.0.0.1:9/ProfitRestServices"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFAS_ENVIRONMENT", "54321")
    monkeypatch.setenv("AFAS_ENVIRONMENT_TYPE", "test")
    monkeypatch.setenv("AFAS_TOKEN", HEX)
    monkeypatch.setenv("AFAS_INTEGRATION_ID", "12345_123456")
    settings = AfasSettings()
    assert settings.resolved_base_url == "https://54321.resttest.afas.online/ProfitRestServices"
    assert settings.integration_id == "12345_123456"
    assert HEX not in repr(settings)


def test_a_location_is_required() -> None:
    with pytest.raises(ValidationError, match="AFAS_ENVIRONMENT"):
        AfasSettings(token=HEX)
