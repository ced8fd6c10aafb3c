"""The Salesforce sandbox through unmodified simple-salesforce: REST, collections, composite, SOQL, limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce, unique
from afas_sf_assets_tests.sandbox_process import Sandbox


@pytest.fixture
def sf(sf_sandbox: Sandbox) -> Iterator[Salesforce]:
    yield plain_salesforce(sf_sandbox)


def product(code: str, **fields: object) -> dict[str, object]:
    return {"attributes": {"type": "Product2"}, "AFAS_Item_Code__c": code, "Name": f"Product {code}", **fields}


def test_upsert_by_external_id_creates_then_updates(sf: Salesforce) -> None:
    code = unique("UP")
    assert sf.Product2.upsert(f"AFAS_Item_Code__c/{code}", {"Name": "First"}) == 201
    assert sf.Product2.upsert(f"AFAS_Item_Code__c/{code}", {"Name": "Second"}) == 200
    record = sf.Product2.get_by_custom_id("AFAS_Item_Code__c", code)
    assert record["Name"] == "Second" and record["IsActive"] is False  # IsActive defaults to false


def test_upsert_refuses_the_key_in_the_body_and_update_only_finds_nothing(sf: Salesforce) -> None:
    code = unique("UP")
    with pytest.raises(SalesforceMalformedRequest):
        sf.Product2.upsert(f"AFAS_Item_Code__c/{code}", {"Name": "x", "AFAS_Item_Code__c": code})
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful(
            f"sobjects/Product2/AFAS_Item_Code__c/{code}",
            method="PATCH",
            params={"updateOnly": "true"},
            json={"Name": "x"},
        )


def test_required_and_unknown_fields(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Product2.create({"ProductCode": "no-name"})
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Product2.create({"Name": "x", "Colour__c": "red"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_collections_upsert_partial_failure_in_order(sf: Salesforce) -> None:
    codes = [unique("COL") for _ in range(3)]
    sf.Product2.upsert(f"AFAS_Item_Code__c/{codes[0]}", {"Name": "exists"})
    records = [product(codes[0]), product(codes[1], Name=None), product(codes[2])]
    results = sf.restful(
        "composite/sobjects/Product2/AFAS_Item_Code__c", method="PATCH", json={"allOrNone": False, "records": records}
    )
    assert [(r["success"], r.get("created")) for r in results] == [(True, False), (False, None), (True, True)]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["Name"]


def test_collections_all_or_none_rolls_back(sf: Salesforce) -> None:
    good, bad = unique("AON"), unique("AON")
    results = sf.restful(
        "composite/sobjects/Product2/AFAS_Item_Code__c",
        method="PATCH",
        json={"allOrNone": True, "records": [product(good), product(bad, Name=None)]},
    )
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.query(format_soql("SELECT Id FROM Product2 WHERE AFAS_Item_Code__c = {}", good))["totalSize"] == 0


def test_collections_over_200_records_is_a_400(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful(
            "composite/sobjects/Product2/AFAS_Item_Code__c",
            method="PATCH",
            json={"allOrNone": False, "records": [product(unique("MAX")) for _ in range(201)]},
        )


def test_collections_create_and_update_by_id(sf: Salesforce) -> None:
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [product(unique("C")), {"attributes": {"type": "Account"}, "Name": "Collections B.V."}],
        },
    )
    assert all(r["success"] for r in created)
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "Account"}, "id": created[1]["id"], "Phone": "020-1234567"}],
        },
    )
    assert updated[0]["success"]
    assert sf.Account.get(created[1]["id"])["Phone"] == "020-1234567"


def test_duplicate_external_id_value(sf: Salesforce) -> None:
    code = unique("DUP")
    first = sf.Product2.create({"Name": "a", "AFAS_Item_Code__c": code})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Product2.create({"Name": "b", "AFAS_Item_Code__c": code.lower()})  # External IDs ignore case
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    assert first["id"] in caught.value.content[0]["message"]


def test_composite_with_references(sf: Salesforce) -> None:
    code = unique("CMP")
    response = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Account",
                    "referenceId": "acct",
                    "body": {"Name": f"Composite {code}"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Contact",
                    "referenceId": "contact",
                    "body": {"LastName": "Jansen", "AccountId": "@{acct.id}"},
                },
                {
                    "method": "GET",
                    "url": "/services/data/v62.0/sobjects/Contact/@{contact.id}?fields=AccountId",
                    "referenceId": "read",
                },
            ],
        },
    )
    statuses = [r["httpStatusCode"] for r in response["compositeResponse"]]
    assert statuses == [201, 201, 200]
    assert response["compositeResponse"][2]["body"]["AccountId"] == response["compositeResponse"][0]["body"]["id"]


def test_query_pages_of_2000_with_next_records_url(sf: Salesforce) -> None:
    family = unique("PAGE")
    records = [product(unique("PG"), Family=family) for _ in range(2_100)]
    for start in range(0, len(records), 200):
        sf.restful(
            "composite/sobjects/Product2/AFAS_Item_Code__c",
            method="PATCH",
            json={"allOrNone": False, "records": records[start : start + 200]},
        )
    soql = format_soql("SELECT Id FROM Product2 WHERE Family = {}", family)
    first = sf.query(soql)
    assert (len(first["records"]), first["done"], first["totalSize"]) == (2_000, False, 2_100)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
    assert len(sf.query_all(soql)["records"]) == 2_100
    assert sf.query(soql.replace("SELECT Id", "SELECT COUNT()"))["totalSize"] == 2_100


def test_soql_subset(sf: Salesforce) -> None:
    tag = unique("SOQL")
    account = sf.Account.create({"Name": f"{tag} O'Brien & Zn.", "BillingCity": "Utrecht"})["id"]
    sf.Contact.create({"LastName": "Alpha", "FirstName": "A", "AccountId": account, "Email": f"{tag}@x.nl"})
    sf.Contact.create({"LastName": "Beta", "AccountId": account, "Email": f"b.{tag}@x.nl"})
    sf.Contact.create({"LastName": "Gamma", "Email": None})

    def names(where: str) -> list[str]:
        result = sf.query_all(f"SELECT LastName FROM Contact WHERE {where} ORDER BY LastName")
        return [r["LastName"] for r in result["records"]]

    quoted = format_soql("{}", f"{tag} O'Brien & Zn.")
    assert names(f"Account.Name = {quoted}") == ["Alpha", "Beta"]
    assert names(format_soql("Email IN {} OR Email = {}", [f"{tag}@x.nl"], f"b.{tag}@x.nl")) == ["Alpha", "Beta"]
    assert names(format_soql("Email LIKE {} AND NOT FirstName = null", f"%{tag}@x.nl")) == ["Alpha"]
    assert names(format_soql("AccountId = {} AND (FirstName != null OR LastName = 'Beta')", account)) == [
        "Alpha",
        "Beta",
    ]
    assert names(format_soql("AccountId = {} AND LastName NOT IN ('Alpha')", account)) == ["Beta"]
    assert names(format_soql("AccountId = {} AND CreatedDate > 2020-01-01T00:00:00Z", account)) == ["Alpha", "Beta"]
    rows = sf.query(
        format_soql(
            "SELECT LastName, Account.Name, Account.BillingCity FROM Contact WHERE AccountId = {} "
            "ORDER BY LastName DESC LIMIT 1 OFFSET 1",
            account,
        )
    )["records"]
    assert [(r["LastName"], r["Account"]["Name"], r["Account"]["BillingCity"]) for r in rows] == [
        ("Alpha", f"{tag} O'Brien & Zn.", "Utrecht")
    ]
    for bad in (
        "SELECT FROM Contact",
        "SELECT Id FROM Contact WHERE",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Nope FROM Contact",
    ):
        with pytest.raises(SalesforceMalformedRequest):
            sf.query(bad)


def test_describe_and_org_features(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    fields = {f["name"]: f for f in sf.Product2.describe()["fields"]}
    assert fields["AFAS_Item_Code__c"]["externalId"] and fields["AFAS_Item_Code__c"]["unique"]
    assert not fields["Name"]["nillable"]
    assert "ProductClass" not in fields, "variations only exist in a Commerce org"
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert "Shipment" not in names and "AFAS_Shipment__c" in names
    try:
        sf_sandbox.sf_put("features", {"features": ["multi_currency", "shipment", "commerce"]})
        names = {o["name"] for o in sf.describe()["sobjects"]}
        assert {"Shipment", "ShipmentItem", "ProductCategory", "ProductAttribute"} <= names
        assert "ProductClass" in {f["name"] for f in sf.Product2.describe()["fields"]}
    finally:
        sf_sandbox.sf_put("features", {"features": ["multi_currency"]})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Shipment.describe()


def test_limits_header_and_request_limit_exceeded(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("limits", {"max": 100, "used": 40})
    sf.query("SELECT Id FROM Pricebook2 LIMIT 1")
    assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (41, 100)
    assert sf.limits()["DailyApiRequests"] == {"Max": 100, "Remaining": 58}
    sf_sandbox.sf_put("limits", {"used": 100})
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Pricebook2 LIMIT 1")
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_direct_session_expires_with_invalid_session_id(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("sessions", {"seconds": 0})
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Pricebook2")
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_fault_knobs_give_503_and_lock_errors(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("faults", {"fail_next": [{"status": 503}]})
    with pytest.raises(Exception, match="503"):
        sf.query("SELECT Id FROM Pricebook2")
    sf_sandbox.sf_put("faults", {"lock_next_records": 1})
    results = sf.restful(
        "composite/sobjects/Product2/AFAS_Item_Code__c",
        method="PATCH",
        json={"allOrNone": False, "records": [product(unique("L")), product(unique("L"))]},
    )
    assert [r["errors"][0]["statusCode"] if r["errors"] else "ok" for r in results] == ["UNABLE_TO_LOCK_ROW", "ok"]
