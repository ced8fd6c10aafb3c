"""The AFAS sandbox's wire behaviour, checked with plain HTTP so no client logic hides a gap."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from afas_sf_assets.afas.settings import authorization_value
from afas_sf_assets.sandbox.afas.demo_data import DemoData, DemoSize
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox


@pytest.fixture
def http(clean_sandbox: Sandbox) -> Iterator[httpx.Client]:
    base = clean_sandbox.env["AFAS_BASE_URL"]
    with httpx.Client(
        base_url=base + "/",
        verify=ssl.create_default_context(cafile=clean_sandbox.env["AFAS_CA_BUNDLE"]),
        headers={"Authorization": authorization_value(clean_sandbox.env["AFAS_TOKEN"])},
    ) as client:
        yield client


def test_path_prefix_is_case_insensitive(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    lower = clean_sandbox.env["AFAS_BASE_URL"].replace("ProfitRestServices", "profitrestservices")
    response = http.get(f"{lower}/connectors/AfasSf_ItemGroups", params={"take": 1})
    assert response.status_code == 200 and len(response.json()["rows"]) == 1


def test_missing_token_is_401_with_an_empty_body(clean_sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.get("connectors/AfasSf_ItemGroups", headers={"Authorization": ""})
    assert (response.status_code, response.content) == (401, b"")


def test_plain_xml_token_without_base64_is_a_server_error(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    xml = f"<token><version>1</version><data>{clean_sandbox.env['AFAS_TOKEN']}</data></token>"
    response = http.get("connectors/AfasSf_ItemGroups", headers={"Authorization": f"AfasToken {xml}"})
    assert response.status_code == 500


def test_skip_take_rules(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    total = len(clean_sandbox.rows("AfasSf_Debtors"))
    everything = http.get("connectors/AfasSf_Debtors", params={"skip": -1, "take": -1}).json()
    assert len(everything["rows"]) == total
    assert http.get("connectors/AfasSf_Debtors", params={"skip": 5, "take": -1}).status_code == 500
    default = http.get("connectors/AfasSf_Debtors").json()
    assert default["take"] == 100
    page = http.get("connectors/AfasSf_Debtors", params={"skip": 10, "take": 5, "orderbyfieldids": "-DebtorId"})
    ids = [row["DebtorId"] for row in page.json()["rows"]]
    assert ids == sorted((r["DebtorId"] for r in everything["rows"]), reverse=True)[10:15]


def test_too_many_cells_is_out_of_memory(http: httpx.Client) -> None:
    response = http.get("connectors/AfasSf_Debtors", params={"skip": 0, "take": 10_000})
    assert response.status_code == 500 and response.json()["externalMessage"] == "Out of memory"


def test_query_string_over_2049_characters_is_404(http: httpx.Client) -> None:
    values = ";".join(f"ART-{n:06d}" for n in range(200))
    params = {
        "filterfieldids": ";".join(["ItemCode"] * 200),
        "filtervalues": values,
        "operatortypes": ";".join(["1"] * 200),
    }
    assert http.get("connectors/AfasSf_Items", params=params).status_code == 404


def test_unknown_filter_and_sort_fields(http: httpx.Client) -> None:
    response = http.get("connectors/AfasSf_Items", params={"orderbyfieldids": "Nope"})
    assert response.status_code == 500
    assert response.json()["externalMessage"] == "Connector field 'Nope' not found"
    body = response.json()
    assert set(body) == {"externalMessage", "errorNumber", "profitLogReference"}


def test_filterjson_or_between_filters(http: httpx.Client) -> None:
    document = {
        "Filters": {
            "Filter": [
                {"@FilterId": "a", "Field": [{"@FieldId": "GroupCode", "@OperatorType": "1", "#text": "SPORT"}]},
                {"@FilterId": "b", "Field": {"@FieldId": "GroupCode", "@OperatorType": "1", "#text": "OUTDOOR"}},
            ]
        }
    }
    rows = http.get("connectors/AfasSf_ItemGroups", params={"filterjson": json.dumps(document)}).json()["rows"]
    assert sorted(r["GroupCode"] for r in rows) == ["OUTDOOR", "SPORT"]


def test_malformed_json_body(http: httpx.Client) -> None:
    response = http.post("connectors/FbSales", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"message": "Invalid json"}


def test_upserted_rows_get_a_fresh_modification_date(clean_sandbox: Sandbox) -> None:
    before = max(r["ModifiedDate"] for r in clean_sandbox.rows("AfasSf_PriceGroups"))
    clean_sandbox.upsert("AfasSf_PriceGroups", [{"PriceGroup": "STANDAARD", "Description": "Standaard (nieuw)"}])
    (row,) = [r for r in clean_sandbox.rows("AfasSf_PriceGroups") if r["PriceGroup"] == "STANDAARD"]
    assert row["Description"] == "Standaard (nieuw)" and row["ModifiedDate"] > before


def test_state_survives_a_restart_and_afas_data_replaces_the_demo(tmp_path: Path) -> None:
    data = tmp_path / "afas.json"
    data.write_text(
        json.dumps(
            {
                "AfasSf_ItemGroups": [
                    {"GroupCode": "ONLY", "Description": "Enige groep", "ModifiedDate": "2026-02-01T10:00:00Z"}
                ]
            }
        )
    )
    directory = tmp_path / "state"
    with running_sandbox(directory, "--afas-data", str(data)) as box:
        assert [r["GroupCode"] for r in box.rows("AfasSf_ItemGroups")] == ["ONLY"]
        assert box.rows("AfasSf_Items") == []
        box.upsert("AfasSf_ItemGroups", [{"GroupCode": "ADDED", "Description": "Na de start"}])
        token = box.env["AFAS_TOKEN"]
    with running_sandbox(directory) as box:
        assert sorted(r["GroupCode"] for r in box.rows("AfasSf_ItemGroups")) == ["ADDED", "ONLY"]
        assert box.env["AFAS_TOKEN"] == token, "clients keep working across restarts"


def test_sandbox_env_is_shell_sourceable_and_private(clean_sandbox: Sandbox) -> None:
    env_file = clean_sandbox.directory / "sandbox.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        assert key.isidentifier() and " " not in value


def test_demo_data_is_deterministic_and_covers_the_rules() -> None:
    first = list(DemoData(11, DemoSize.SMALL).generate())
    assert first == list(DemoData(11, DemoSize.SMALL).generate())
    assert first != list(DemoData(12, DemoSize.SMALL).generate())
    rows = {}
    for connector, batch in first:
        rows.setdefault(connector, []).extend(batch)
    debtors = rows["AfasSf_Debtors"]
    assert len(debtors) == 50 and len(rows["AfasSf_Items"]) == 200
    assert any(d["CompanyName"] for d in debtors) and any(not d["CompanyName"] for d in debtors)
    assert any(d["Email"] is None for d in debtors)
    emails = [d["Email"] for d in debtors if d["Email"]]
    assert len({e.lower() for e in emails}) < len(emails), "two debtors share an e-mail in another case"
    kinds = {i["ItemKind"] for i in rows["AfasSf_Items"]}
    assert kinds == {"simple", "configurable", "variant"}
    assert {p["CurrencyId"] for p in rows["AfasSf_SalesPrices"]} == {"EUR", "USD"}
    assert {p["PriceInclVat"] for p in rows["AfasSf_SalesPrices"]} == {True, False}
    assert {d["DocumentType"] for d in rows["AfasSf_SalesDocuments"]} == {
        "quote",
        "order",
        "invoice",
        "direct_invoice",
        "financial_mutation",
    }
    per_order: dict[str, int] = {}
    for note in rows["AfasSf_DeliveryNotes"]:
        per_order[note["OrderNumber"]] = per_order.get(note["OrderNumber"], 0) + 1
    assert max(per_order.values()) >= 2, "an order shipped in several parts"
    assert {r["RelationType"] for r in rows["AfasSf_ItemRelations"]} == {"cross_sell", "up_sell", "related"}
    assert any(s["SalesReserved"] for s in rows["AfasSf_Stock"])
