"""The sandbox org's data-model rules and Bulk API 2.0, through unmodified simple-salesforce."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce, unique
from afas_sf_assets_tests.sandbox_process import Sandbox


@pytest.fixture
def sf(sf_sandbox: Sandbox) -> Iterator[Salesforce]:
    yield plain_salesforce(sf_sandbox)


def error_code(caught: pytest.ExceptionInfo[SalesforceMalformedRequest]) -> str:
    return caught.value.content[0]["errorCode"]


def standard_book(sf: Salesforce) -> str:
    return sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]


def new_product(sf: Salesforce) -> str:
    return sf.Product2.create({"Name": "Rules product", "AFAS_Item_Code__c": unique("R")})["id"]


def test_the_standard_price_book_cannot_be_created(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Pricebook2.create({"Name": "Another standard", "IsStandard": True})
    assert error_code(caught) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_custom_price_needs_the_standard_price_first(sf: Salesforce) -> None:
    product = new_product(sf)
    book = sf.Pricebook2.create({"Name": unique("Groothandel"), "IsActive": True})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 8.0, "IsActive": True})
    assert error_code(caught) == "STANDARD_PRICE_NOT_DEFINED"
    sf.PricebookEntry.create({"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 10.0})
    entry = sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 8.0})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 7.0})
    assert error_code(caught) == "DUPLICATE_VALUE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.update(entry, {"Product2Id": new_product(sf)})
    assert error_code(caught) == "INVALID_FIELD_FOR_INSERT_UPDATE", "Product2Id is fixed once set"
    # Another currency is another price definition, with its own standard price first.
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.create(
            {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 9.0, "CurrencyIsoCode": "USD"}
        )
    assert error_code(caught) == "STANDARD_PRICE_NOT_DEFINED"


def order_setup(sf: Salesforce) -> dict[str, str]:
    product = new_product(sf)
    book = sf.Pricebook2.create({"Name": unique("Orders"), "IsActive": True})["id"]
    standard_entry = sf.PricebookEntry.create(
        {"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 10.0, "IsActive": True}
    )["id"]
    entry = sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 8.0, "IsActive": True})[
        "id"
    ]
    account = sf.Account.create({"Name": unique("Order account")})["id"]
    return {"product": product, "book": book, "entry": entry, "standard_entry": standard_entry, "account": account}


def test_order_items_come_from_the_orders_price_book(sf: Salesforce) -> None:
    ids = order_setup(sf)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Order.create({"AccountId": ids["account"], "Status": "Draft"})
    assert error_code(caught) == "REQUIRED_FIELD_MISSING"
    bare = sf.Order.create({"AccountId": ids["account"], "EffectiveDate": "2026-11-28", "Status": "Draft"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.OrderItem.create({"OrderId": bare, "PricebookEntryId": ids["entry"], "Quantity": 1, "UnitPrice": 8})
    assert error_code(caught) == "FIELD_INTEGRITY_EXCEPTION", "no price book on the order"
    order = sf.Order.create(
        {"AccountId": ids["account"], "EffectiveDate": "2026-11-28", "Status": "Draft", "Pricebook2Id": ids["book"]}
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.OrderItem.create(
            {"OrderId": order, "PricebookEntryId": ids["standard_entry"], "Quantity": 1, "UnitPrice": 10}
        )
    assert error_code(caught) == "FIELD_INTEGRITY_EXCEPTION", "entry from another price book"
    item = sf.OrderItem.create({"OrderId": order, "PricebookEntryId": ids["entry"], "Quantity": 3, "UnitPrice": 8})[
        "id"
    ]
    assert sf.OrderItem.get(item)["Product2Id"] == ids["product"]
    assert sf.Order.get(order)["TotalAmount"] == 24.0
    sf.Order.update(order, {"Status": "Activated"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.OrderItem.update(item, {"Quantity": 5})
    assert error_code(caught) == "FIELD_INTEGRITY_EXCEPTION", "an activated order is locked"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Order.delete(order)


def test_person_accounts_when_the_org_has_them(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"LastName": "Visser"})
    assert error_code(caught) == "INVALID_FIELD", "a plain org has no person fields"
    sf_sandbox.sf_put("features", {"features": ["multi_currency", "person_accounts"]})
    try:
        types = sf.query("SELECT Id, DeveloperName FROM RecordType WHERE SobjectType = 'Account'")["records"]
        person_type = next(t["Id"] for t in types if t["DeveloperName"] == "PersonAccount")
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.Account.create({"RecordTypeId": person_type, "Name": "Sanne Visser", "LastName": "Visser"})
        assert error_code(caught) == "INVALID_FIELD_FOR_INSERT_UPDATE"
        email = f"{unique('sanne')}@example.nl"
        created = sf.Account.create(
            {"RecordTypeId": person_type, "FirstName": "Sanne", "LastName": "Visser", "PersonEmail": email}
        )["id"]
        account = sf.Account.get(created)
        assert (account["IsPersonAccount"], account["Name"], account["PersonEmail"]) == (True, "Sanne Visser", email)
        assert account["PersonContactId"]
        business = sf.Account.create({"Name": "Zakelijk B.V."})["id"]
        assert sf.Account.get(business)["IsPersonAccount"] is False
    finally:
        sf_sandbox.sf_put("features", {"features": ["multi_currency"]})


def test_content_version_makes_a_document_and_links_it(sf: Salesforce) -> None:
    product = new_product(sf)
    data = base64.b64encode(b"\x89PNG fake image").decode()
    version = sf.ContentVersion.create(
        {"Title": "Front", "PathOnClient": "front.png", "VersionData": data, "FirstPublishLocationId": product}
    )["id"]
    document = sf.ContentVersion.get(version)["ContentDocumentId"]
    links = sf.query(f"SELECT LinkedEntityId FROM ContentDocumentLink WHERE ContentDocumentId = '{document}'")
    assert [r["LinkedEntityId"] for r in links["records"]] == [product]
    other = new_product(sf)
    sf.ContentDocumentLink.create({"ContentDocumentId": document, "LinkedEntityId": other, "ShareType": "V"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.ContentDocumentLink.create({"ContentDocumentId": document, "LinkedEntityId": other, "ShareType": "V"})
    assert error_code(caught) == "DUPLICATE_VALUE"
    second = sf.ContentVersion.create(
        {
            "Title": "Front v2",
            "PathOnClient": "front.png",
            "ContentDocumentId": document,
            "VersionData": base64.b64encode(b"v2").decode(),
        }
    )["id"]
    latest = sf.query(f"SELECT LatestPublishedVersionId FROM ContentDocument WHERE Id = '{document}'")["records"]
    assert latest[0]["LatestPublishedVersionId"] == second
    assert sf.ContentVersion.get(version)["IsLatest"] is False
    raw = sf.session.get(f"{sf.base_url}sobjects/ContentVersion/{second}/VersionData", headers=sf.headers)
    assert raw.content == b"v2"


def test_bulk2_upsert_with_results_csvs(sf: Salesforce) -> None:
    codes = [unique("BULK") for _ in range(30)]
    sf.Product2.upsert(f"AFAS_Item_Code__c/{codes[0]}", {"Name": "exists already"})
    records = [{"AFAS_Item_Code__c": code, "Name": f"Bulk {n}", "IsActive": "true"} for n, code in enumerate(codes)]
    records[5]["Name"] = ""  # leaves Name empty on a new record: refused
    (job,) = sf.bulk2.Product2.upsert(records=records, external_id_field="AFAS_Item_Code__c", wait=0.05)
    assert (job["numberRecordsProcessed"], job["numberRecordsFailed"]) == (30, 1)
    successes = list(csv.DictReader(io.StringIO(sf.bulk2.Product2.get_successful_records(job["job_id"]))))
    assert {row["sf__Created"] for row in successes if row["AFAS_Item_Code__c"] == codes[0]} == {"false"}
    assert len(successes) == 29
    (failed,) = csv.DictReader(io.StringIO(sf.bulk2.Product2.get_failed_records(job["job_id"])))
    assert failed["AFAS_Item_Code__c"] == codes[5]
    assert failed["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")
    everything = sf.bulk2.Product2.get_all_ingest_records(job["job_id"])  # asks for …/unprocessedRecords
    assert (len(everything["successfulRecords"]), len(everything["failedRecords"])) == (29, 1)
    assert everything["unprocessedRecords"] == []
    # The documented lower-case spelling answers too: a header line and no records.
    response = sf.session.get(f"{sf.base_url}jobs/ingest/{job['job_id']}/unprocessedrecords/", headers=sf.headers)
    assert response.status_code == 200
    assert response.text.splitlines() == [response.text.splitlines()[0]]
    assert set(response.text.splitlines()[0].split(",")) == {"AFAS_Item_Code__c", "Name", "IsActive"}


def test_bulk2_job_with_an_unknown_column_fails_as_a_whole(sf: Salesforce) -> None:
    with pytest.raises(Exception, match="Field name not found"):
        sf.bulk2.Product2.upsert(
            records=[{"AFAS_Item_Code__c": unique("B"), "Name": "x", "Nope__c": "1"}],
            external_id_field="AFAS_Item_Code__c",
            wait=0.05,
        )


def test_bulk2_relationship_columns_and_na_clears(sf: Salesforce) -> None:
    parent_code, child_code = unique("PARENT"), unique("CHILD")
    sf.Product2.upsert(f"AFAS_Item_Code__c/{parent_code}", {"Name": "Parent"})
    sf.bulk2.Product2.upsert(
        records=[
            {
                "AFAS_Item_Code__c": child_code,
                "Name": "Child",
                "Description": "x",
                "AFAS_Parent_Item__r.AFAS_Item_Code__c": parent_code,
            }
        ],
        external_id_field="AFAS_Item_Code__c",
        wait=0.05,
    )
    child = sf.Product2.get_by_custom_id("AFAS_Item_Code__c", child_code)
    parent = sf.Product2.get_by_custom_id("AFAS_Item_Code__c", parent_code)
    assert child["AFAS_Parent_Item__c"] == parent["Id"]
    sf.bulk2.Product2.upsert(
        records=[{"AFAS_Item_Code__c": child_code, "Description": "#N/A", "Name": ""}],
        external_id_field="AFAS_Item_Code__c",
        wait=0.05,
    )
    child = sf.Product2.get_by_custom_id("AFAS_Item_Code__c", child_code)
    assert child["Description"] is None and child["Name"] == "Child", "#N/A clears, an empty cell leaves as is"
