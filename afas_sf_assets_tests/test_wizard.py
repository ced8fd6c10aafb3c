"""The setup wizard against the sandboxes: every check passes, and each failure names what to fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from afas_sf_assets.mapping.model import load_to_afas_mapping
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS
from afas_sf_assets.wizard import init, run_checks
from afas_sf_assets_tests.conftest import Org


@pytest.fixture
def org_env(fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Org:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    return org


def test_everything_in_place(org_env: Org) -> None:
    checks = list(run_checks())
    assert all(c.ok for c in checks), [c.line() for c in checks if not c.ok]
    names = [c.name for c in checks]
    assert {"AFAS connection", "AFAS GetConnectors", "Salesforce connection", "flow products", "flow orders"} <= set(
        names
    )


def test_a_refused_token_is_named_without_the_token(org_env: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFAS_TOKEN", "F" * 64)
    (check,) = list(run_checks())
    assert (check.name, check.ok) == ("AFAS connection", False) and "401" in check.detail
    assert "F" * 64 not in check.detail


def test_a_mapping_that_does_not_fit_names_the_fields(org_env: Org, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for path in DEFAULT_MAPPINGS.glob("*.yaml"):
        text = path.read_text()
        if path.name == "products.yaml":
            text = text.replace(
                "  AFAS_Brand__c: {from: Brand}", "  AFAS_Brand__c: {from: Merk}\n  Colour__c: {from: Colour}"
            )
        (mappings / path.name).write_text(text)
    checks = {c.name: c for c in run_checks(mappings)}
    assert not checks["flow products"].ok and "has no field(s) Merk" in checks["flow products"].detail
    (mappings / "products.yaml").write_text(
        (mappings / "products.yaml").read_text().replace("{from: Merk}", "{from: Brand}")
    )
    checks = {c.name: c for c in run_checks(mappings)}
    assert "Product2: Colour__c" in checks["flow products"].detail
    assert checks["flow customers"].ok


def test_a_flow_into_afas_is_checked_for_its_connectors_and_its_salesforce_fields(org_env: Org) -> None:
    example = load_to_afas_mapping(DEFAULT_MAPPINGS / "examples" / "shop_accounts.yaml")
    unknown = example.model_copy(update={"target": example.target.model_copy(update={"connector": "KnSubject"})})
    renamed = example.model_copy(update={"source": example.source.model_copy(update={"write_back": "Debtor__c"})})
    checks = {c.detail: c for c in run_checks(to_afas=[example]) if c.name == "flow shop_accounts"}
    assert [c.ok for c in checks.values()] == [True]
    (wrong,) = [c for c in run_checks(to_afas=[unknown]) if c.name == "flow shop_accounts"]
    assert not wrong.ok and wrong.detail == "not on the App Connector: KnSubject"
    (absent,) = [c for c in run_checks(to_afas=[renamed]) if c.name == "flow shop_accounts"]
    assert not absent.ok and absent.detail.startswith("Account has no field(s) Debtor__c")


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AFAS_BASE_URL", "AFAS_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AFAS_TOKEN", "A" * 64)
    (check,) = list(run_checks())
    assert not check.ok and "AFAS_ENVIRONMENT" in check.detail


def test_init_writes_a_private_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AFAS_ENVIRONMENT", "AFAS_TOKEN", "SF_CONSUMER_KEY"):
        monkeypatch.delenv(name, raising=False)
    answers = {
        "AFAS environment number": "12345",
        "AFAS App Connector token": "B" * 64,
        "Salesforce connected app consumer key": "3MVG9key",
    }
    asked_secret: list[str] = []

    def ask(question: str, secret: bool) -> str:
        if secret:
            asked_secret.append(question)
        return next((v for k, v in answers.items() if question.startswith(k)), "")

    path = init(tmp_path / "afas-sf.env", ask)
    text = path.read_text()
    assert "AFAS_ENVIRONMENT=12345\n" in text and f"AFAS_TOKEN={'B' * 64}\n" in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert any(q.startswith("AFAS App Connector token") for q in asked_secret), "secrets are asked without echo"
