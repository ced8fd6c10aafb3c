"""UpdateConnectors and file downloads through the real client against the sandbox."""

from __future__ import annotations

import base64
import time

import pytest

from afas_sf_assets.afas.client import AfasClient, element, envelope
from afas_sf_assets.afas.errors import AfasServerError
from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets.afas.models import ImageFormat
from afas_sf_assets_tests.sandbox_process import Sandbox


def debtor_rows(afas: AfasClient, debtor_id: str) -> list[dict]:
    where = Where.all(Condition("DebtorId", Operator.EQ, debtor_id))
    return list(afas.iter_rows("AfasSf_Debtors", key=("DebtorId",), where=where))


def organisation(name: str, email: str) -> dict:
    return element(
        {"CuId": "EUR", "PaCd": "30", "ColA": "1300"},
        objects={
            "KnOrganisation": element(
                {"MatchOga": "6", "Nm": name, "EmAd": email, "TeNr": "020-1234567"},
                objects={
                    "KnBasicAddressAdr": element(
                        {"CoId": "NL", "Ad": "Prinsengracht", "HmNr": "263", "ZpCd": "1016 GV", "Rs": "Amsterdam"}
                    ),
                    "KnContact": element(
                        {}, objects={"KnPerson": element({"FiNm": "Anne", "LaNm": "Frank", "EmAd": email})}
                    ),
                },
            )
        },
    )


def test_envelope_shape() -> None:
    body = envelope("FbSales", element({"DbId": "1"}, objects={"FbSalesLines": [element({"ItCd": "A"})]}))
    assert body == {
        "FbSales": {
            "Element": {
                "Fields": {"DbId": "1"},
                "Objects": [{"FbSalesLines": {"Element": [{"Fields": {"ItCd": "A"}}]}}],
            }
        }
    }
    assert element({"X": 1}, key={"DbId": "7"}) == {"@DbId": "7", "Fields": {"X": 1}}


def test_organisation_debtor_with_contact_is_created_and_readable(afas: AfasClient) -> None:
    result = afas.insert("KnSalesRelationOrg", organisation("Achterhuis B.V.", "info@achterhuis.example"))
    debtor_id = result["DbId"]
    (row,) = debtor_rows(afas, debtor_id)
    assert row["CompanyName"] == "Achterhuis B.V."
    assert (row["ContactFirstName"], row["ContactLastName"]) == ("Anne", "Frank")
    assert (row["BillingStreet"], row["BillingHouseNumber"], row["BillingCity"]) == ("Prinsengracht", 263, "Amsterdam")
    assert row["PaymentCondition"] == "30"
    assert row["ModifiedDate"].endswith("Z")


def test_person_debtor(afas: AfasClient) -> None:
    body = element(
        {"CuId": "EUR"},
        objects={
            "KnPerson": element(
                {"MatchPer": "7", "FiNm": "Piet", "Is": "van", "LaNm": "Dam", "EmAd": "piet@example.nl"}
            )
        },
    )
    debtor_id = afas.insert("KnSalesRelationPer", body)["DbId"]
    (row,) = debtor_rows(afas, debtor_id)
    assert row["CompanyName"] is None
    assert row["DebtorName"] == "Piet van Dam"


def test_missing_mandatory_field_names_the_object_and_field(afas: AfasClient) -> None:
    body = organisation("Zonder Valuta B.V.", "x@example.nl")
    del body["Fields"]["CuId"]
    with pytest.raises(AfasServerError) as caught:
        afas.insert("KnSalesRelationOrg", body)
    assert "KnSalesRelationOrg" in str(caught.value) and "CuId" in str(caught.value)
    assert caught.value.profit_log_reference


def test_unknown_field_is_refused(afas: AfasClient) -> None:
    with pytest.raises(AfasServerError, match="Field 'Colour' does not exist"):
        afas.insert("FbItemArticle", {"Fields": {"ItCd": "X-1", "Grp": "SHIRTS", "BiUn": "STK", "Colour": "red"}})


def test_update_changes_fields_and_bumps_the_modification_date(afas: AfasClient) -> None:
    debtor_id = afas.insert("KnSalesRelationOrg", organisation("Wijzig B.V.", "wijzig@example.nl"))["DbId"]
    (before,) = debtor_rows(afas, debtor_id)
    time.sleep(1.1)  # modification dates have whole seconds on the wire
    assert afas.update("KnSalesRelationOrg", element({"DbId": debtor_id, "PaCd": "60"})) == {}
    (after,) = debtor_rows(afas, debtor_id)
    assert after["PaymentCondition"] == "60"
    assert after["CompanyName"] == "Wijzig B.V.", "fields not sent stay as they were"
    assert after["ModifiedDate"] > before["ModifiedDate"]


def test_sales_order_with_lines_then_more_lines_then_delete(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    debtor = clean_sandbox.rows("AfasSf_Debtors")[0]
    items = [r for r in clean_sandbox.rows("AfasSf_Items") if r["ItemKind"] != "configurable" and not r["Blocked"]]
    order = element(
        {"DbId": debtor["DebtorId"], "Unit": 1, "War": "HOOFD", "RfCs": "SF-801000000000001", "PaCd": "14"},
        objects={
            "FbSalesLines": [
                element({"VaIt": "2", "ItCd": items[0]["ItemCode"], "BiUn": "STK", "QuUn": 2, "Upri": 10.5})
            ]
        },
    )
    number = afas.insert("FbSales", order)["OrNu"]
    extra = element(
        {"OrNu": number},
        objects={"FbSalesLines": [element({"VaIt": "2", "ItCd": items[1]["ItemCode"], "BiUn": "STK", "QuUn": 1})]},
    )
    assert afas.insert("FbSales", extra, sub_object="FbSalesLines") == {"OrNu": number}
    where = Where.all(Condition("DocumentType", Operator.EQ, "order"), Condition("DocumentNumber", Operator.EQ, number))
    (document,) = afas.iter_rows("AfasSf_SalesDocuments", key=("DocumentType", "DocumentNumber"), where=where)
    assert document["Reference"] == "SF-801000000000001"
    assert document["Administration"] == 1
    lines = list(
        afas.iter_rows("AfasSf_SalesDocumentLines", key=("DocumentType", "DocumentNumber", "LineNumber"), where=where)
    )
    assert [(line["ItemCode"], line["Quantity"]) for line in lines] == [
        (items[0]["ItemCode"], 2),
        (items[1]["ItemCode"], 1),
    ]
    afas.delete("FbSales", "OrNu", number)
    assert not list(afas.iter_rows("AfasSf_SalesDocuments", key=("DocumentType", "DocumentNumber"), where=where))


def test_order_for_unknown_item_or_debtor_is_refused(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    debtor = clean_sandbox.rows("AfasSf_Debtors")[0]
    line = element({"VaIt": "2", "ItCd": "NO-SUCH-ITEM", "BiUn": "STK", "QuUn": 1})
    with pytest.raises(AfasServerError, match="Item 'NO-SUCH-ITEM' does not exist"):
        afas.insert("FbSales", element({"DbId": debtor["DebtorId"]}, objects={"FbSalesLines": [line]}))
    with pytest.raises(AfasServerError, match="'99999999' does not exist"):
        afas.insert("FbSalesQuotation", element({"DbId": "99999999"}))


def test_quotation_direct_invoice_and_financial_entry(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    debtor = clean_sandbox.rows("AfasSf_Debtors")[1]
    item = next(r for r in clean_sandbox.rows("AfasSf_Items") if r["ItemKind"] == "simple" and not r["Blocked"])
    line = {"VaIt": "2", "ItCd": item["ItemCode"], "BiUn": "STK", "QuUn": 3}
    quote = afas.insert(
        "FbSalesQuotation", element({"DbId": debtor["DebtorId"]}, objects={"FbSalesQuotationLines": [element(line)]})
    )
    invoice = afas.insert(
        "FbDirectInvoice", element({"DbId": debtor["DebtorId"]}, objects={"FbDirectInvoiceLines": [element(line)]})
    )
    entry = afas.insert(
        "FiEntries",
        element(
            {"Year": 2026, "Peri": 11, "UnId": 1, "JoCo": "70"},
            objects={
                "FiEntries": [
                    element(
                        {
                            "VaAs": "2",
                            "AcNr": debtor["DebtorId"],
                            "EnDa": "2026-11-28",
                            "BpDa": "2026-11-28",
                            "Ds": "Correctie",
                            "AmDe": 12.5,
                        }
                    ),
                    element({"VaAs": "1", "AcNr": "8000", "EnDa": "2026-11-28", "BpDa": "2026-11-28", "AmCr": 12.5}),
                ]
            },
        ),
    )
    types = {(r["DocumentType"], r["DocumentNumber"]) for r in clean_sandbox.rows("AfasSf_SalesDocuments")}
    assert {
        ("quote", quote["OrNu"]),
        ("direct_invoice", invoice["OrNu"]),
        ("financial_mutation", entry["EnNo"]),
    } <= types


def test_image_download_in_three_formats_and_after_a_change(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    item = next(r for r in clean_sandbox.rows("AfasSf_Items") if r["ImageId"])
    original = afas.get_image(item["ImageId"])
    assert original.mimetype == "image/png" and original.data.startswith(b"\x89PNG")
    thumbnail = afas.get_image(item["ImageId"], image_format=ImageFormat.THUMBNAIL)
    assert thumbnail.data != original.data and len(thumbnail.data) < len(original.data)
    clean_sandbox.control.post(f"images/{item['ImageId']}").raise_for_status()
    assert afas.get_image(item["ImageId"]).data != original.data
    where = Where.all(Condition("ItemCode", Operator.EQ, item["ItemCode"]))
    (changed,) = afas.iter_rows("AfasSf_Items", key=("ItemCode",), where=where)
    assert changed["ImageModifiedDate"] != item["ImageModifiedDate"]


def test_subject_attachment_and_file_downloads(afas: AfasClient, clean_sandbox: Sandbox) -> None:
    payload = base64.b64encode(b"%PDF-1.4 leveringsvoorwaarden").decode()
    clean_sandbox.control.post(
        "files",
        json={
            "path": "subjectconnector/4711/F1",
            "filename": "voorwaarden.pdf",
            "mimetype": "application/pdf",
            "filedata": payload,
        },
    )
    clean_sandbox.control.post(
        "files", json={"path": "fileconnector/ABC-123/foto.png", "filename": "foto.png", "filedata": payload}
    )
    attachment = afas.get_subject_attachment(4711, "F1")
    assert (attachment.filename, attachment.data) == ("voorwaarden.pdf", b"%PDF-1.4 leveringsvoorwaarden")
    assert afas.get_file("ABC-123", "foto.png").data == b"%PDF-1.4 leveringsvoorwaarden"
