"""The AFAS sandbox refuses what Profit refuses, validated against AFAS's own OpenAPI: one test per rule,
with plain httpx so no client logic hides a gap."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from afas_sf_assets.afas.settings import authorization_value
from afas_sf_assets_tests.sandbox_process import Sandbox


@pytest.fixture
def http(clean_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=clean_sandbox.env["AFAS_BASE_URL"] + "/",
        verify=ssl.create_default_context(cafile=clean_sandbox.env["AFAS_CA_BUNDLE"]),
        headers={"Authorization": authorization_value(clean_sandbox.env["AFAS_TOKEN"])},
    ) as client:
        yield client


def sales_order(sandbox: Sandbox, fields: dict[str, Any] | None = None, line: dict[str, Any] | None = None) -> dict:
    debtor = sandbox.rows("AfasSf_Debtors")[0]["DebtorId"]
    item = sandbox.rows("AfasSf_Items")[0]["ItemCode"]
    line_fields = {"VaIt": "2", "ItCd": item, "BiUn": "STK", "QuUn": 1, **(line or {})}
    return {
        "FbSales": {
            "Element": {
                "Fields": {"DbId": debtor, "OrDa": "2026-11-29", **(fields or {})},
                "Objects": [{"FbSalesLines": {"Element": [{"Fields": line_fields}]}}],
            }
        }
    }


def refusal(response: httpx.Response) -> str:
    """Profit's error body: HTTP 500 with its three fields, as JSON."""
    assert response.status_code == 500, response.text
    body = response.json()
    assert set(body) == {"externalMessage", "errorNumber", "profitLogReference"}
    return body["externalMessage"]


def test_a_date_field_takes_dates_only(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"OrDa": "31-12-2026"})))
    assert "OrDa" in message and "date" in message
    assert http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"OrDa": "2026-11-29T00:00:00"})).is_success


def test_a_number_field_takes_numbers_only(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, line={"QuUn": "veel"})))
    assert "QuUn" in message and "number" in message
    assert http.post("connectors/FbSales", json=sales_order(clean_sandbox, line={"QuUn": "2,5"})).is_success


def test_a_text_field_takes_its_maximum_length(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"RfCs": "r" * 101})))
    assert "RfCs" in message and "101" in message and "100" in message


def test_a_code_field_takes_its_codes_only(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, line={"VaIt": "9"})))
    assert "VaIt" in message and "not a valid code" in message


def test_a_boolean_field_takes_booleans_or_1_and_0(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"BkOr": "ja"})))
    assert "BkOr" in message and "boolean" in message
    assert http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"BkOr": "1"})).is_success


def test_an_unknown_field_is_refused(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    message = refusal(http.post("connectors/FbSales", json=sales_order(clean_sandbox, {"Bogus": "x"})))
    assert message == "Field 'Bogus' does not exist in object 'FbSales'"


def test_a_field_sent_empty_is_cleared(http: httpx.Client, clean_sandbox: Sandbox) -> None:
    debtor = next(d for d in clean_sandbox.rows("AfasSf_Debtors") if d.get("CompanyName") and d.get("Phone"))
    body = {
        "KnSalesRelationOrg": {
            "Element": {
                "Fields": {"DbId": debtor["DebtorId"]},
                "Objects": [{"KnOrganisation": {"Element": {"Fields": {"TeNr": ""}}}}],
            }
        }
    }
    assert http.put("connectors/KnSalesRelationOrg", json=body).status_code == 200
    (after,) = [d for d in clean_sandbox.rows("AfasSf_Debtors") if d["DebtorId"] == debtor["DebtorId"]]
    assert after["Phone"] is None, "cleared"
    assert after["CompanyName"] == debtor["CompanyName"], "a field not sent is left as it is"


@pytest.mark.parametrize("body", [b"{not json", b'{"FbSales": {"Element": {"Fields": {"QuUn": NaN}}}}'])
def test_malformed_json_is_invalid_json(http: httpx.Client, body: bytes) -> None:
    response = http.post("connectors/FbSales", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json() == {"message": "Invalid json"}


def test_get_connector_metainfo_reports_field_lengths(http: httpx.Client) -> None:
    items = {f["id"]: f for f in http.get("metainfo/get/AfasSf_Items").json()["fields"]}
    assert items["ItemCode"]["length"] == 40 and items["Description"]["length"] == 100
    assert items["ModifiedDate"]["length"] == 0
    debtors = {f["id"]: f for f in http.get("metainfo/get/AfasSf_Debtors").json()["fields"]}
    assert (debtors["BillingCity"]["length"], debtors["BillingPostalCode"]["length"]) == (50, 15)


def test_update_connector_metainfo_reports_lengths_and_codes(http: httpx.Client) -> None:
    sales = http.get("metainfo/update/FbSales").json()
    fields = {f["fieldId"]: f for f in sales["fields"]}
    assert fields["RfCs"]["length"] == 100
    lines = next(o for o in sales["objects"] if o["name"] == "FbSalesLines")
    item_type = next(f for f in lines["fields"] if f["fieldId"] == "VaIt")
    assert {v["id"] for v in item_type["values"]} >= {"1", "2"}


def test_touch_moves_the_modification_date_even_when_the_row_carries_one(clean_sandbox: Sandbox) -> None:
    row = clean_sandbox.rows("AfasSf_Items")[0]
    clean_sandbox.upsert("AfasSf_Items", [{**row, "Description": "Aangeraakt"}])
    (after,) = [r for r in clean_sandbox.rows("AfasSf_Items") if r["ItemCode"] == row["ItemCode"]]
    assert after["ModifiedDate"] > row["ModifiedDate"]
    clean_sandbox.upsert("AfasSf_Items", [{**row, "Description": "Stil"}], touch=False)
    (kept,) = [r for r in clean_sandbox.rows("AfasSf_Items") if r["ItemCode"] == row["ItemCode"]]
    assert kept["ModifiedDate"] == row["ModifiedDate"]
