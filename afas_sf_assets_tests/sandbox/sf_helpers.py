"""Plain simple-salesforce against the sandbox, the way any user of the library would connect."""

from __future__ import annotations

import uuid

import requests
from simple_salesforce import Salesforce

from afas_sf_assets.salesforce.auth import obtain_session
from afas_sf_assets_tests.sandbox_process import Sandbox


def plain_salesforce(sandbox: Sandbox) -> Salesforce:
    session = requests.Session()
    session.verify = sandbox.env["SF_CA_BUNDLE"]
    session.trust_env = False
    login = obtain_session(sandbox.sf_settings(), session)
    return Salesforce(instance_url=login.instance_url, session_id=login.access_token, session=session, version="62.0")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
