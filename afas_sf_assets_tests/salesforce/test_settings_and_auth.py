"""Settings, the OAuth flows against the sandbox's token endpoint, and simple-salesforce's own SOAP login."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from pydantic import ValidationError
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.errors import SalesforceAuthError
from afas_sf_assets.salesforce.settings import AuthFlow, SalesforceSettings
from afas_sf_assets_tests.conftest import FAST_RETRY
from afas_sf_assets_tests.sandbox_process import Sandbox


@pytest.mark.parametrize(
    ("flow", "missing"),
    [
        ("client_credentials", "SF_CONSUMER_SECRET"),
        ("jwt", "SF_PRIVATE_KEY_FILE"),
        ("password", "SF_PASSWORD"),
        ("token", "SF_ACCESS_TOKEN"),
    ],
)
def test_each_flow_names_what_it_lacks(flow: str, missing: str) -> None:
    given: dict[str, Any] = {"consumer_key": "k", "username": "u", "instance_url": "https://x.my.salesforce.com"}
    with pytest.raises(ValidationError, match=missing):
        SalesforceSettings(auth=flow, **given)


def test_secrets_stay_out_of_repr() -> None:
    settings = SalesforceSettings(
        auth="password",
        consumer_key="k",
        consumer_secret="s3cr3t-value",
        username="u",
        password="pa55-value",
        security_token="t0ken-value",
    )
    text = repr(settings)
    assert not any(secret in text for secret in ("s3cr3t-value", "pa55-value", "t0ken-value"))


@pytest.mark.parametrize("flow", [AuthFlow.CLIENT_CREDENTIALS, AuthFlow.PASSWORD, AuthFlow.JWT])
def test_every_login_flow_gives_a_working_session(sf_sandbox: Sandbox, flow: AuthFlow) -> None:
    with SalesforceClient(sf_sandbox.sf_settings(auth=flow), retry=FAST_RETRY) as client:
        assert client.count("SELECT COUNT() FROM Pricebook2 WHERE IsStandard = true") == 1
        assert client.api_usage is not None and client.api_usage.used >= 1


def test_token_flow_uses_the_given_session(sf_sandbox: Sandbox) -> None:
    with SalesforceClient(sf_sandbox.sf_settings(), retry=FAST_RETRY) as first:
        first.count("SELECT COUNT() FROM Product2")
        instance, token = first.sf.base_url.split("/services")[0], first.sf.session_id
    settings = sf_sandbox.sf_settings(auth="token", instance_url=instance, access_token=token)
    with SalesforceClient(settings, retry=FAST_RETRY) as client:
        assert client.count("SELECT COUNT() FROM Pricebook2") >= 1


@pytest.mark.parametrize(
    ("flow", "override"),
    [
        (AuthFlow.CLIENT_CREDENTIALS, {"consumer_secret": "wrong-secret-value"}),
        (AuthFlow.PASSWORD, {"password": "wrong-password-value"}),
    ],
)
def test_refused_login_is_an_auth_error_without_the_secret(
    sf_sandbox: Sandbox, flow: AuthFlow, override: dict[str, str]
) -> None:
    with SalesforceClient(sf_sandbox.sf_settings(auth=flow, **override), retry=FAST_RETRY) as client:
        with pytest.raises(SalesforceAuthError) as caught:
            client.count("SELECT COUNT() FROM Product2")
    text = str(caught.value) + repr(caught.value.__dict__)
    assert caught.value.status == 400
    for secret in (*override.values(), sf_sandbox.env["SF_CONSUMER_SECRET"], sf_sandbox.env["SF_PASSWORD"]):
        assert secret not in text


class _ToSandbox(HTTPAdapter):
    """simple-salesforce's SOAP login always goes to *.salesforce.com; send it to the sandbox instead."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        path = request.url.split(".salesforce.com", 1)[1]  # type: ignore[union-attr]
        request.url = self.base + path
        return super().send(request, **kwargs)


def test_plain_simple_salesforce_soap_login_and_relogin_on_expiry(sf_sandbox: Sandbox) -> None:
    session = requests.Session()
    session.verify = sf_sandbox.env["SF_CA_BUNDLE"]
    session.trust_env = False
    session.mount("https://login.salesforce.com", _ToSandbox(sf_sandbox.env["SF_LOGIN_URL"]))
    sf = Salesforce(
        username=sf_sandbox.env["SF_USERNAME"],
        password=sf_sandbox.env["SF_PASSWORD"],
        security_token=sf_sandbox.env["SF_SECURITY_TOKEN"],
        session=session,
        version="62.0",
    )
    assert sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["totalSize"] == 1
    first_token = sf.session_id
    sf_sandbox.sf_control.delete("sessions").raise_for_status()  # every session expires now
    assert sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["totalSize"] == 1
    assert sf.session_id != first_token, "simple-salesforce logged in again on INVALID_SESSION_ID"
