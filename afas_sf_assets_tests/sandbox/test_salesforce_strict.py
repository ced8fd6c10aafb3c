"""The Salesforce sandbox refuses what a real org refuses: one test per rule of
shared/reference/salesforce-fields.md, over HTTPS with unmodified simple-salesforce (and plain requests
where a library would hide the wire)."""

from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceResourceNotFound

from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.errors import SalesforceRequestError
from afas_sf_assets_tests.conftest import FAST_RETRY
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce, unique
from afas_sf_assets_tests.sandbox_process import Sandbox


@pytest.fixture
def sf(sf_sandbox: Sandbox) -> Iterator[Salesforce]:
    yield plain_salesforce(sf_sandbox)


def refused(action: Any) -> dict[str, Any]:
    """The first error Salesforce answered for a refused call."""
    with pytest.raises(SalesforceError) as caught:
        action()
    content = caught.value.content
    assert isinstance(content, list), f"not Salesforce's JSON error list: {content!r}"
    return content[0]


def field_of(sf: Salesforce, sobject: str, name: str) -> dict[str, Any]:
    return next(f for f in getattr(sf, sobject).describe()["fields"] if f["name"] == name)


def standard_book(sf: Salesforce) -> str:
    return sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]


def priced_product(sf: Salesforce, *, active: bool = True) -> tuple[str, str]:
    product = sf.Product2.create({"Name": "Strict", "AFAS_Item_Code__c": unique("S")})["id"]
    entry = sf.PricebookEntry.create(
        {"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 10, "IsActive": active}
    )["id"]
    return product, entry


def draft_order(sf: Salesforce) -> str:
    account = sf.Account.create({"Name": unique("Strict B.V.")})["id"]
    return sf.Order.create(
        {"AccountId": account, "EffectiveDate": "2026-11-29", "Status": "Draft", "Pricebook2Id": standard_book(sf)}
    )["id"]


# -- field semantics from the real describe ---------------------------------------------------------


def test_describe_reports_the_real_lengths_precision_and_flags(sf: Salesforce) -> None:
    assert field_of(sf, "Account", "BillingCity")["length"] == 40
    assert field_of(sf, "Account", "BillingPostalCode")["length"] == 20
    assert field_of(sf, "Contact", "Email")["length"] == 80
    assert field_of(sf, "Product2", "Description")["length"] == 4000
    price = field_of(sf, "PricebookEntry", "UnitPrice")
    assert (price["type"], price["precision"], price["scale"], price["length"]) == ("currency", 18, 2, 0)
    standard = field_of(sf, "Pricebook2", "IsStandard")
    assert (standard["nillable"], standard["createable"], standard["defaultedOnCreate"]) == (False, False, True)
    product2 = field_of(sf, "PricebookEntry", "Product2Id")
    assert (product2["createable"], product2["updateable"]) == (True, False)
    assert field_of(sf, "Order", "Status")["restrictedPicklist"] is True
    assert field_of(sf, "Account", "Type")["restrictedPicklist"] is False


def test_text_longer_than_the_field_is_string_too_long(sf: Salesforce) -> None:
    error = refused(lambda: sf.Account.create({"Name": "Lang", "BillingCity": "x" * 41}))
    assert (error["errorCode"], error["fields"]) == ("STRING_TOO_LONG", ["BillingCity"])
    assert sf.Account.create({"Name": "Past precies", "BillingCity": "x" * 40})["success"]


def test_a_number_beyond_its_precision_is_out_of_range(sf: Salesforce) -> None:
    product = sf.Product2.create({"Name": "Duur", "AFAS_Item_Code__c": unique("N")})["id"]
    error = refused(
        lambda: sf.PricebookEntry.create({"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 1e17})
    )
    assert (error["errorCode"], error["fields"]) == ("NUMBER_OUTSIDE_VALID_RANGE", ["UnitPrice"])


def test_decimals_beyond_the_scale_are_rounded(sf: Salesforce) -> None:
    product = sf.Product2.create({"Name": "Afgerond", "AFAS_Item_Code__c": unique("R")})["id"]
    entry = sf.PricebookEntry.create({"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 10.125})[
        "id"
    ]
    assert sf.PricebookEntry.get(entry)["UnitPrice"] == 10.13


def test_a_value_of_the_wrong_type_is_a_json_parser_error(sf: Salesforce) -> None:
    error = refused(lambda: sf.Product2.create({"Name": "x", "AFAS_Stock__c": "lots"}))
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    error = refused(lambda: sf.Order.create({"Name": "x", "EffectiveDate": "31-12-2026", "Status": "Draft"}))
    assert error["errorCode"] == "JSON_PARSER_ERROR"


def test_nan_is_not_json(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    response = sf.session.post(
        f"{sf.base_url}sobjects/Product2/",
        data='{"Name": "x", "AFAS_Stock__c": NaN}',
        headers=sf.headers,
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_one_undeserializable_value_refuses_a_whole_collection(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    codes = [unique("COLL"), unique("COLL")]
    records = [
        {"attributes": {"type": "Product2"}, "Name": "good", "AFAS_Item_Code__c": codes[0]},
        {"attributes": {"type": "Product2"}, "Name": "bad", "AFAS_Item_Code__c": codes[1], "AFAS_Stock__c": "lots"},
    ]
    response = sf.session.patch(
        f"{sf.base_url}composite/sobjects/Product2/AFAS_Item_Code__c",
        json={"allOrNone": False, "records": records},
        headers=sf.headers,
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert not [r for r in sf_sandbox.sf_records("Product2") if r.get("AFAS_Item_Code__c") in codes]


def test_a_refused_value_fails_only_its_record_in_a_collection(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Account"}, "Name": "Kort", "AFAS_Debtor_Id__c": unique("D")[:16]},
        {
            "attributes": {"type": "Account"},
            "Name": "Lang",
            "AFAS_Debtor_Id__c": unique("D")[:16],
            "BillingCity": "y" * 41,
        },
    ]
    results = sf.session.patch(
        f"{sf.base_url}composite/sobjects/Account/AFAS_Debtor_Id__c",
        json={"allOrNone": False, "records": records},
        headers=sf.headers,
    ).json()
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"


def test_checkboxes_default_to_false_and_are_never_null(sf: Salesforce) -> None:
    name = unique("Boek")
    book = sf.Pricebook2.create({"Name": name})["id"]
    record = sf.Pricebook2.get(book)
    assert (record["IsStandard"], record["IsActive"], record["IsArchived"]) == (False, False, False)
    found = sf.query(f"SELECT Id FROM Pricebook2 WHERE IsStandard = false AND Name = '{name}'")["records"]
    assert [r["Id"] for r in found] == [book]
    sf.Pricebook2.update(book, {"IsActive": None})
    assert sf.Pricebook2.get(book)["IsActive"] is False


def test_read_only_and_create_only_fields_are_refused(sf: Salesforce) -> None:
    order = draft_order(sf)
    error = refused(lambda: sf.Order.update(order, {"OrderNumber": "X-1"}))
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    path = sf.ContentVersion.create(
        {"Title": "a", "PathOnClient": "a.png", "VersionData": base64.b64encode(b"a").decode()}
    )["id"]
    error = refused(lambda: sf.ContentVersion.update(path, {"PathOnClient": "b.png"}))
    assert (error["errorCode"], error["fields"]) == ("INVALID_FIELD_FOR_INSERT_UPDATE", ["PathOnClient"])


def test_restricted_picklists_refuse_unknown_values_and_open_ones_take_them(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": unique("Picklist"), "Type": "Groothandel"})["id"]
    assert sf.Account.get(account)["Type"] == "Groothandel"
    error = refused(
        lambda: sf.Order.create({"AccountId": account, "EffectiveDate": "2026-11-29", "Status": "Verzonden"})
    )
    assert error["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_dates_outside_what_salesforce_stores_are_refused(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": unique("Datum")})["id"]
    error = refused(lambda: sf.Order.create({"AccountId": account, "EffectiveDate": "0001-01-01", "Status": "Draft"}))
    assert (error["errorCode"], error["fields"]) == ("INVALID_TYPE_ON_FIELD_IN_RECORD", ["EffectiveDate"])


def test_defaulted_fields_get_their_defaults(sf: Salesforce) -> None:
    version = sf.ContentVersion.create(
        {"Title": "d", "PathOnClient": "d.png", "VersionData": base64.b64encode(b"d").decode()}
    )["id"]
    record = sf.ContentVersion.get(version)
    assert (record["ContentLocation"], record["Origin"], record["PublishStatus"], record["FileType"]) == (
        "S",
        "C",
        "U",
        "PNG",
    )
    assert sf.Product2.get(sf.Product2.create({"Name": "Nieuw"})["id"])["IsActive"] is False


# -- record lifecycle ---------------------------------------------------------------------------------


def test_an_order_is_created_as_draft_only(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": unique("Actief")})["id"]
    error = refused(
        lambda: sf.Order.create({"AccountId": account, "EffectiveDate": "2026-11-29", "Status": "Activated"})
    )
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["Status"])


def test_activation_changes_status_alone_and_locks_the_account(sf: Salesforce) -> None:
    order = draft_order(sf)
    error = refused(lambda: sf.Order.update(order, {"Status": "Activated", "Description": "tegelijk"}))
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sf.Order.update(order, {"Status": "Activated"})
    record = sf.Order.get(order)
    assert (record["StatusCode"], record["ActivatedDate"] is not None) == ("Activated", True)
    other = sf.Account.create({"Name": unique("Ander")})["id"]
    assert refused(lambda: sf.Order.update(order, {"AccountId": other}))["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert refused(lambda: sf.Order.delete(order))["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_an_order_product_needs_a_unit_price(sf: Salesforce) -> None:
    _, entry = priced_product(sf)
    order = draft_order(sf)
    error = refused(lambda: sf.OrderItem.create({"OrderId": order, "PricebookEntryId": entry, "Quantity": 1}))
    assert (error["errorCode"], error["fields"]) == ("REQUIRED_FIELD_MISSING", ["UnitPrice"])


def test_an_order_product_needs_an_active_price_book_entry(sf: Salesforce) -> None:
    _, entry = priced_product(sf, active=False)
    order = draft_order(sf)
    error = refused(
        lambda: sf.OrderItem.create({"OrderId": order, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 10})
    )
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and "inactive" in error["message"]


def test_an_order_product_copies_the_list_price_and_product(sf: Salesforce) -> None:
    product, entry = priced_product(sf)
    order = draft_order(sf)
    item = sf.OrderItem.create({"OrderId": order, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 9})["id"]
    record = sf.OrderItem.get(item)
    assert (record["Product2Id"], record["ListPrice"], record["TotalPrice"]) == (product, 10.0, 18.0)


def test_use_standard_price_rules(sf: Salesforce) -> None:
    product = sf.Product2.create({"Name": "Standaard", "AFAS_Item_Code__c": unique("U")})["id"]
    error = refused(
        lambda: sf.PricebookEntry.create(
            {"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 5, "UseStandardPrice": True}
        )
    )
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sf.PricebookEntry.create({"Pricebook2Id": standard_book(sf), "Product2Id": product, "UnitPrice": 5})
    book = sf.Pricebook2.create({"Name": unique("Groep")})["id"]
    error = refused(
        lambda: sf.PricebookEntry.create(
            {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 4, "UseStandardPrice": True}
        )
    )
    assert (error["errorCode"], error["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", ["UnitPrice"])


def test_the_standard_price_book_keeps_its_name(sf: Salesforce) -> None:
    error = refused(lambda: sf.Pricebook2.update(standard_book(sf), {"Name": "Mijn boek"}))
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_deleted_records_are_gone_but_found_by_query_all(sf: Salesforce) -> None:
    code = unique("DEL")
    first = sf.Product2.create({"Name": "Weg", "AFAS_Item_Code__c": code})["id"]
    sf.Product2.delete(first)
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Product2.get(first)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    everything = sf.query_all(f"SELECT Id, IsDeleted FROM Product2 WHERE Id = '{first}'", include_deleted=True)
    assert [r["IsDeleted"] for r in everything["records"]] == [True]
    again = sf.Product2.upsert(f"AFAS_Item_Code__c/{code}", {"Name": "Terug"})
    assert again == 201, "an upsert never matches a deleted record"


def test_record_types_exist_only_with_person_accounts(sf: Salesforce) -> None:
    names = {f["name"] for f in sf.Account.describe()["fields"]}
    assert "RecordTypeId" not in names and "PersonEmail" not in names
    assert sf.Account.describe()["recordTypeInfos"] == []


def test_a_person_accounts_contact_follows_its_account(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("features", {"features": ["multi_currency", "person_accounts"]})
    try:
        person_type = sf.query("SELECT Id FROM RecordType WHERE IsPersonType = true")["records"][0]["Id"]
        account = sf.Account.create({"RecordTypeId": person_type, "FirstName": "Eva", "LastName": "Smit"})["id"]
        contact = sf.Account.get(account)["PersonContactId"]
        sf.Account.update(account, {"LastName": "de Vries", "PersonEmail": "eva@example.nl"})
        record = sf.Contact.get(contact)
        assert (record["LastName"], record["Email"], record["Name"]) == ("de Vries", "eva@example.nl", "Eva de Vries")
        error = refused(lambda: sf.Contact.update(contact, {"LastName": "direct"}))
        assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
        assert refused(lambda: sf.Contact.delete(contact))["errorCode"] == "DELETE_FAILED"
        business_type = sf.query("SELECT Id FROM RecordType WHERE IsPersonType = false")["records"][0]["Id"]
        error = refused(lambda: sf.Account.update(account, {"RecordTypeId": business_type, "Name": "Smit B.V."}))
        assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
        sf.Account.delete(account)
        with pytest.raises(SalesforceResourceNotFound):
            sf.Contact.get(contact)
    finally:
        sf_sandbox.sf_put("features", {"features": ["multi_currency", "state_country_picklists"]})


def test_country_codes_only_with_state_and_country_picklists(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    account = sf.Account.create({"Name": unique("Land"), "BillingCountryCode": "NL"})["id"]
    assert sf.Account.get(account)["BillingCountryCode"] == "NL"
    assert refused(lambda: sf.Account.create({"Name": "x", "BillingCountryCode": "XX"}))["errorCode"] == (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )
    sf_sandbox.sf_put("features", {"features": ["multi_currency"]})
    try:
        assert refused(lambda: sf.Account.create({"Name": "x", "BillingCountryCode": "NL"}))["errorCode"] == (
            "INVALID_FIELD"
        )
    finally:
        sf_sandbox.sf_put("features", {"features": ["multi_currency", "state_country_picklists"]})


# -- SOQL typed like Salesforce -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        "AFAS_Stock__c = '5'",  # a number in quotes
        "LastModifiedDate > '2026-01-01T00:00:00Z'",  # a datetime in quotes
        "LastModifiedDate > 2026-01-01",  # a date on a datetime field
        "IsActive = 'true'",  # a boolean in quotes
        "Name = 5",  # a string without quotes
        # Only the dateTime forms SOQL documents: no fraction of a second, an offset with its colon. A
        # dateTime as the REST API returns it (2026-01-01T00:00:00.000+0000) is not one.
        "LastModifiedDate > 2026-01-01T00:00:00.000Z",
        "LastModifiedDate > 2026-01-01T00:00:00+0000",
        "LastModifiedDate > 2026-01-01T00:00:00.000+0000",
    ],
)
def test_soql_literals_must_match_the_fields_type(sf: Salesforce, where: str) -> None:
    error = refused(lambda: sf.query(f"SELECT Id FROM Product2 WHERE {where}"))
    assert error["errorCode"] == "MALFORMED_QUERY"


def test_soql_takes_the_documented_datetime_forms_as_one_instant(sf: Salesforce) -> None:
    counts = {
        moment: sf.query(f"SELECT COUNT() FROM Product2 WHERE LastModifiedDate > {moment}")["totalSize"]
        for moment in ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00", "2025-12-31T19:00:00-05:00")
    }
    assert len(set(counts.values())) == 1, counts


def test_soql_offset_stops_at_2000(sf: Salesforce) -> None:
    error = refused(lambda: sf.query("SELECT Id FROM Product2 LIMIT 1 OFFSET 2001"))
    assert error["errorCode"] == "NUMBER_OUTSIDE_VALID_RANGE"


def test_soql_ids_match_in_15_and_18_characters_and_bad_ids_are_refused(sf: Salesforce) -> None:
    product = sf.Product2.create({"Name": "Id"})["id"]
    found = sf.query(f"SELECT Id FROM Product2 WHERE Id = '{product[:15]}'")["records"]
    assert [r["Id"] for r in found] == [product]
    assert refused(lambda: sf.query("SELECT Id FROM Product2 WHERE Id = 'nope'"))["errorCode"] == (
        "INVALID_QUERY_FILTER_OPERATOR"
    )


def test_a_uri_over_16384_bytes_is_414_and_with_its_headers_431(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    def query_of(uri_bytes: int) -> str:
        """A statement whose request URI (path and `?q=`, encoded as requests does) is that many bytes."""
        path = len("/services/data/v62.0/query/?q=")
        soql = "SELECT Id FROM Account WHERE Name IN ('x')"
        while path + len(quote_plus(soql)) + 20 <= uri_bytes:
            soql = soql[:-1] + f",'{len(soql):010d}')"  # 16 bytes encoded per value
        return soql[:-2] + "x" * (uri_bytes - path - len(quote_plus(soql))) + "')"

    with pytest.raises(SalesforceError) as too_long:
        sf.query(query_of(16_385))
    assert too_long.value.status == 414 and "URI Too Long" in str(too_long.value.content)
    with pytest.raises(SalesforceError) as too_large:
        sf.query(query_of(16_384 - 200))  # fits alone, not with the session's headers
    assert too_large.value.status == 431
    assert sf.query(query_of(12_000))["totalSize"] == 0, "well within the limits"
    with SalesforceClient(sf_sandbox.sf_settings(), retry=FAST_RETRY) as client:
        with pytest.raises(SalesforceRequestError, match=r"QUERY_TOO_LONG: .*16,384"):
            list(client.iter_query(query_of(16_385)))  # refused before it is sent
    assert len(quote_plus(query_of(16_385))) + len("/services/data/v62.0/query/?q=") == 16_385


def test_a_string_in_a_where_clause_is_at_most_4000_characters(sf: Salesforce) -> None:
    error = refused(lambda: sf.query(f"SELECT Id FROM Account WHERE Name = '{'x' * 4_001}'"))
    assert error["errorCode"] == "MALFORMED_QUERY" and "4000" in error["message"]
    assert sf.query(f"SELECT Id FROM Account WHERE Name = '{'x' * 4_000}'")["totalSize"] == 0


def test_content_document_links_need_a_filter_on_a_document_or_entity(sf: Salesforce) -> None:
    assert refused(lambda: sf.query("SELECT Id FROM ContentDocumentLink"))["errorCode"] == "MALFORMED_QUERY"


# -- Bulk API 2.0 job rules -----------------------------------------------------------------------------


def bulk_job(sf: Salesforce, **options: str) -> dict[str, Any]:
    body = {"object": "Product2", "operation": "insert", **options}
    response = sf.session.post(f"{sf.base_url}jobs/ingest", json=body, headers=sf.headers)
    return {"status": response.status_code, **(response.json() if response.status_code == 200 else {})}


def finish(sf: Salesforce, job_id: str, data: str) -> dict[str, Any]:
    headers = {**sf.headers, "Content-Type": "text/csv"}
    assert sf.session.put(f"{sf.base_url}jobs/ingest/{job_id}/batches", data=data, headers=headers).status_code == 201
    sf.session.patch(f"{sf.base_url}jobs/ingest/{job_id}", json={"state": "UploadComplete"}, headers=sf.headers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = sf.session.get(f"{sf.base_url}jobs/ingest/{job_id}", headers=sf.headers).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.02)
    raise AssertionError("the job never finished")


def test_bulk_data_must_use_the_jobs_line_ending(sf: Salesforce) -> None:
    job = bulk_job(sf, lineEnding="LF")
    info = finish(sf, job["id"], "Name,AFAS_Item_Code__c\r\nA,B1\r\n")
    assert info["state"] == "Failed" and "LineEnding is invalid" in info["errorMessage"]


def test_bulk_jobs_take_another_column_delimiter(sf: Salesforce) -> None:
    job = bulk_job(sf, columnDelimiter="SEMICOLON")
    code = unique("SEMI")
    info = finish(sf, job["id"], f"Name;AFAS_Item_Code__c\nPuntkomma, met komma;{code}\n")
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 1, 0)
    (row,) = csv.DictReader(
        io.StringIO(sf.session.get(f"{sf.base_url}jobs/ingest/{job['id']}/successfulResults", headers=sf.headers).text)
    )
    assert sf.Product2.get(row["sf__Id"])["Name"] == "Puntkomma, met komma"
    assert bulk_job(sf, columnDelimiter="SLASH")["status"] == 400


def test_bulk_jobs_take_one_upload(sf: Salesforce) -> None:
    job = bulk_job(sf)
    headers = {**sf.headers, "Content-Type": "text/csv"}
    url = f"{sf.base_url}jobs/ingest/{job['id']}/batches"
    assert sf.session.put(url, data="Name\nA\n", headers=headers).status_code == 201
    second = sf.session.put(url, data="Name\nB\n", headers=headers)
    assert second.status_code == 400 and second.json()[0]["errorCode"] == "BULK_API_ERROR"


def test_bulk_rows_are_checked_like_any_write(sf: Salesforce) -> None:
    job = bulk_job(sf)
    info = finish(sf, job["id"], f"Name,AFAS_Item_Code__c,Description\nA,{unique('L')},{'x' * 4001}\n")
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (1, 1)
    failed = sf.session.get(f"{sf.base_url}jobs/ingest/{job['id']}/failedResults", headers=sf.headers).text
    assert "STRING_TOO_LONG" in failed


def test_a_bulk_job_writes_its_rows_in_parallel_chunks_not_in_order(sf: Salesforce) -> None:
    """Salesforce processes a job's data in chunks of 200 in parallel: a row cannot count on an earlier one
    of the same job, so a child after its parent may find it missing."""
    job = bulk_job(sf)
    # 20 chunks of parents, then 20 of their children: that no child, or every child, finds its parent
    # missing has a chance of about one in a million.
    parents = [unique("PAR") for _ in range(4_000)]
    lines = ["Name,AFAS_Item_Code__c,AFAS_Parent_Item__r.AFAS_Item_Code__c"]
    lines += [f"Parent,{code}," for code in parents]
    lines += [f"Child,{unique('CHI')},{code}" for code in parents]
    info = finish(sf, job["id"], "\n".join(lines) + "\n")
    assert info["numberRecordsProcessed"] == 8_000 and 0 < info["numberRecordsFailed"] < 4_000
    failed = sf.session.get(f"{sf.base_url}jobs/ingest/{job['id']}/failedResults", headers=sf.headers).text
    assert "Foreign key external ID" in failed and ",Child," in failed


# -- errors are always the real shape -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "sobjects/Account/", "{not json"),
        ("POST", "sobjects/Account/", "[1, 2]"),
        ("PATCH", "composite/sobjects/Account/AFAS_Debtor_Id__c", '{"records": "x"}'),
        ("POST", "sobjects/OrderItem/", '{"Quantity": 1}'),
        ("GET", "query/?q=SELEKT", None),
    ],
)
def test_malformed_requests_get_salesforces_json_errors(
    sf: Salesforce, method: str, path: str, body: str | None
) -> None:
    response = sf.session.request(method, f"{sf.base_url}{path}", data=body, headers=sf.headers)
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"].startswith("application/json")
    assert {"errorCode", "message"} <= set(response.json()[0])


# -- composite (REST API Developer Guide, "Composite") -----------------------------------------------------


def composite(sf: Salesforce, subrequests: list[dict[str, Any]], *, all_or_none: bool = False) -> list[dict[str, Any]]:
    body = {"allOrNone": all_or_none, "collateSubrequests": False, "compositeRequest": subrequests}
    return sf.restful("composite", method="POST", json=body)["compositeResponse"]


def query_sub(ref: str, soql: str = "SELECT Id FROM Product2 LIMIT 1") -> dict[str, Any]:
    return {"method": "GET", "url": f"/services/data/v62.0/query/?q={quote_plus(soql)}", "referenceId": ref}


def collection_sub(ref: str, *names: str) -> dict[str, Any]:
    records = [{"attributes": {"type": "Product2"}, "Name": n, "AFAS_Item_Code__c": unique("CP")} for n in names]
    return {
        "method": "PATCH",
        "url": "/services/data/v62.0/composite/sobjects/Product2/AFAS_Item_Code__c",
        "referenceId": ref,
        "body": {"allOrNone": False, "records": records},
    }


def test_composite_takes_at_most_five_collections_or_queries(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    five = [query_sub("q0"), query_sub("q1"), collection_sub("c0", "a"), collection_sub("c1", "b"), query_sub("q2")]
    describes = [{"method": "GET", "url": "/services/data/v62.0/sobjects/Product2/describe", "referenceId": "d"}]
    assert [r["httpStatusCode"] for r in composite(sf, five + describes)] == [200] * 6
    before = sf_sandbox.sf_records("Product2")
    error = refused(lambda: composite(sf, [*five, query_sub("q3")]))
    assert "6 subrequests are sObject Collections or queries" in error["message"]
    assert len(sf_sandbox.sf_records("Product2")) == len(before), "a refused composite runs none of it"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"referenceId": "bad-ref"}, "letters, numbers and underscores"),
        ({"method": "get"}, "is not one of"),
        ({"url": "/sobjects/Product2/describe"}, "must start with /services/data/"),
        ({"url": "/services/data/v62.0/limits"}, "composite does not support"),
        ({"httpHeaders": {"Content-Type": "application/json"}}, "come from the request"),
        ({"url": "/services/data/v42.0/composite/sobjects"}, "need API version 43.0"),
    ],
)
def test_composite_refuses_what_salesforce_refuses_before_running_anything(
    sf: Salesforce, change: dict[str, Any], message: str
) -> None:
    assert message in refused(lambda: composite(sf, [query_sub("first"), {**query_sub("second"), **change}]))["message"]


def test_composite_reference_ids_are_unique_and_25_at_most(sf: Salesforce) -> None:
    assert "Duplicate referenceId" in refused(lambda: composite(sf, [query_sub("same"), query_sub("same")]))["message"]
    describe = {"method": "GET", "url": "/services/data/v62.0/sobjects/Product2/describe"}
    many = [{**describe, "referenceId": f"d{i}"} for i in range(26)]
    assert refused(lambda: composite(sf, many))["errorCode"] == "INVALID_BATCH_SIZE"


def test_a_failed_subrequest_halts_only_those_that_refer_to_it(sf: Salesforce) -> None:
    results = composite(
        sf,
        [
            {"method": "POST", "url": "/services/data/v62.0/sobjects/Product2", "referenceId": "bad", "body": {}},
            {
                "method": "GET",
                "url": "/services/data/v62.0/sobjects/Product2/@{bad.id}",
                "referenceId": "needs_bad",
            },
            collection_sub("independent", "runs anyway"),
        ],
    )
    assert [r["httpStatusCode"] for r in results] == [400, 400, 200]
    assert results[0]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert results[2]["body"][0]["success"]


def test_all_or_none_composite_rolls_back_and_fails_every_subrequest(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    good = collection_sub("good", "rolled back")
    code = good["body"]["records"][0]["AFAS_Item_Code__c"]
    bad = {"method": "POST", "url": "/services/data/v62.0/sobjects/Product2", "referenceId": "bad", "body": {}}
    results = composite(sf, [good, bad, query_sub("after")], all_or_none=True)
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400]
    assert [r["body"][0]["errorCode"] for r in results] == [
        "PROCESSING_HALTED",
        "REQUIRED_FIELD_MISSING",
        "PROCESSING_HALTED",
    ]
    assert not [r for r in sf_sandbox.sf_records("Product2") if r.get("AFAS_Item_Code__c") == code]


def test_a_composite_call_is_one_api_call_and_counted_by_what_it_does(sf: Salesforce, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_control.delete("calls")
    composite(sf, [query_sub("q"), {"method": "GET", "url": "/services/data/v62.0/sobjects", "referenceId": "g"}])
    composite(sf, [collection_sub("c0", "a"), collection_sub("c1", "b")])
    calls = sf_sandbox.sf_calls()
    assert calls["api_used"] == 2
    assert calls["by_endpoint"]["POST composite (reads)"] == 1 and calls["by_endpoint"]["POST composite"] == 1
    assert calls["by_endpoint"]["describe (global)"] == 1
