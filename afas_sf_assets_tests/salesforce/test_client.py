"""The project's Salesforce client against the sandbox: upsert paths, retries, expiry, limits, reads."""

from __future__ import annotations

import time

import pytest

from afas_sf_assets.retrying import RetryPolicy
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.errors import (
    SalesforceAuthError,
    SalesforceBulkJobError,
    SalesforceConnectionError,
    SalesforceLimitExceeded,
    SalesforceRequestError,
    SalesforceSchemaError,
    SalesforceServerError,
)
from afas_sf_assets_tests.conftest import FAST_RETRY
from afas_sf_assets_tests.sandbox.sf_helpers import unique
from afas_sf_assets_tests.sandbox_process import Sandbox


def products(count: int, **fields: object) -> list[dict[str, object]]:
    return [{"AFAS_Item_Code__c": unique("CL"), "Name": f"Client product {n}", **fields} for n in range(count)]


def test_collections_path_outcomes_in_input_order(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    records = products(450)
    salesforce.upsert("Product2", "AFAS_Item_Code__c", records[:10])
    records[20]["Name"] = None
    records[30]["AFAS_Item_Code__c"] = records[31]["AFAS_Item_Code__c"]  # a repeated key in one batch
    sf_sandbox.sf_control.delete("calls")
    outcomes = salesforce.upsert("Product2", "AFAS_Item_Code__c", records)
    assert len(outcomes) == 450
    assert [o.external_id for o in outcomes] == [str(r["AFAS_Item_Code__c"]) for r in records]
    assert all(o.created is False for o in outcomes[:10]) and outcomes[11].created is True
    assert outcomes[20].error_code == "REQUIRED_FIELD_MISSING" and outcomes[20].errors[0].fields == ("Name",)
    assert outcomes[31].error_code == "DUPLICATE_EXTERNAL_ID" and outcomes[30].success
    assert sum(o.success for o in outcomes) == 448
    assert sf_sandbox.sf_calls()["by_endpoint"] == {"POST composite": 1}, "⌈449/200⌉ collections in one composite"


def test_collections_go_five_to_a_composite_call_in_order(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    parents = products(1_001)
    variants = [
        {"AFAS_Item_Code__c": unique("VA"), "Name": "variant", "AFAS_Parent_Item__r": {"AFAS_Item_Code__c": p}}
        for p in (str(parents[0]["AFAS_Item_Code__c"]), str(parents[-1]["AFAS_Item_Code__c"]))
    ]
    assert salesforce.sf  # logged in before the count
    sf_sandbox.sf_control.delete("calls")
    written_parents, written_variants = salesforce.upsert_all(
        [("Product2", "AFAS_Item_Code__c", parents), ("Product2", "AFAS_Item_Code__c", variants)]
    )
    assert all(o.success for o in written_parents + written_variants), "a variant's parent, even the last, went first"
    assert sf_sandbox.sf_calls()["by_endpoint"] == {"POST composite": 2}, "6 + 1 collections: 5 a call"
    ids = [o.id for o in written_parents]
    sf_sandbox.sf_control.delete("calls")
    updated = salesforce.update_by_id("Product2", [{"Id": i, "Description": "updated"} for i in ids])
    assert all(o.success for o in updated) and [o.id for o in updated] == ids
    assert all(o.success for o in salesforce.delete_records([str(i) for i in ids]))
    assert sf_sandbox.sf_calls()["by_endpoint"] == {"POST composite": 4}, "6 collections each way, 5 a call"


def test_a_collection_refused_whole_inside_a_composite_fails_only_its_records(
    salesforce: SalesforceClient, sf_sandbox: Sandbox
) -> None:
    records = products(400)
    records[250]["AFAS_Stock__c"] = "lots"  # Salesforce cannot read a number from it: the request is refused
    outcomes = salesforce.upsert("Product2", "AFAS_Item_Code__c", records)
    assert all(o.success for o in outcomes[:200])
    assert {o.error_code for o in outcomes[200:]} == {"JSON_PARSER_ERROR"}


def test_describes_of_a_flow_come_in_one_call(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    assert salesforce.sf
    sf_sandbox.sf_control.delete("calls")
    salesforce.describe_many(["Product2", "ContentVersion", "NoSuchObject__c"])
    assert salesforce.org_fields("Product2") and salesforce.org_fields("ContentVersion")
    assert salesforce.org_fields("NoSuchObject__c") is None
    salesforce.describe_many(["Product2"])
    assert sf_sandbox.sf_calls()["api_used"] == 1


def test_bulk_path_above_the_threshold(sf_sandbox: Sandbox) -> None:
    records = products(60)
    records[7]["Name"] = None  # sent as #N/A: a new record without a name is refused
    with SalesforceClient(sf_sandbox.sf_settings(bulk_threshold=50), retry=FAST_RETRY) as client:
        client.upsert("Product2", "AFAS_Item_Code__c", records[:5])
        sf_sandbox.sf_control.delete("calls")
        outcomes = client.upsert("Product2", "AFAS_Item_Code__c", records)
    assert [o.external_id for o in outcomes] == [str(r["AFAS_Item_Code__c"]) for r in records]
    assert [o.created for o in outcomes[:5]] == [False] * 5 and outcomes[5].created is True
    assert outcomes[7].error_code == "REQUIRED_FIELD_MISSING" and outcomes[7].errors[0].fields == ("Name",)
    assert all(o.id and o.id.startswith("01t") for o in outcomes if o.success)
    calls = sf_sandbox.sf_calls()["by_endpoint"]
    assert "PATCH composite" not in calls and calls.get("POST jobs") == 1
    assert calls["GET jobs (results)"] == 2, "successes and failures; nothing was left unprocessed"


def test_a_bulk_job_that_wrote_everything_reads_one_result_list(sf_sandbox: Sandbox) -> None:
    with SalesforceClient(sf_sandbox.sf_settings(bulk_threshold=50), retry=FAST_RETRY) as client:
        assert client.sf
        sf_sandbox.sf_control.delete("calls")
        outcomes = client.upsert("Product2", "AFAS_Item_Code__c", products(60))
    assert all(o.success and o.created for o in outcomes)
    calls = sf_sandbox.sf_calls()["by_endpoint"]
    assert calls["GET jobs (results)"] == 1
    assert calls["POST jobs"] + calls["PUT jobs"] + calls["PATCH jobs"] + calls["GET jobs (results)"] == 4


def test_a_bulk_job_is_polled_soon_then_less_often_and_given_up_at_the_deadline(sf_sandbox: Sandbox) -> None:
    settings = sf_sandbox.sf_settings(bulk_threshold=1, bulk_poll_seconds=0.05, bulk_timeout_seconds=1.5)
    with SalesforceClient(settings, retry=FAST_RETRY) as client:
        started = time.monotonic()
        client.upsert("Product2", "AFAS_Item_Code__c", products(3))
        assert time.monotonic() - started < 1.5, "a quick job is seen done within a fraction of a second"
        sf_sandbox.sf_put("faults", {"bulk_job_seconds": 4})
        sf_sandbox.sf_control.delete("calls")
        with pytest.raises(SalesforceBulkJobError, match="timeout"):
            client.upsert("Product2", "AFAS_Item_Code__c", products(3))
    polls = sf_sandbox.sf_calls()["by_endpoint"]["GET jobs"]
    assert 3 <= polls <= 15, "polled soon, then less often, not every 50 ms for 1.5 s"


def test_locked_rows_are_retried_until_they_go_through(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("faults", {"lock_next_records": 3})
    outcomes = salesforce.upsert("Product2", "AFAS_Item_Code__c", products(5))
    assert all(o.success for o in outcomes)
    assert sf_sandbox.sf_calls()["by_endpoint"]["PATCH composite"] == 2, "one collection: no composite around it"


def test_locked_rows_give_up_after_the_bounded_attempts(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("faults", {"lock_rate": 1.0})
    outcomes = salesforce.upsert("Product2", "AFAS_Item_Code__c", products(2))
    assert {o.error_code for o in outcomes} == {"UNABLE_TO_LOCK_ROW"}
    assert sf_sandbox.sf_calls()["by_endpoint"]["PATCH composite"] == FAST_RETRY.max_attempts


def test_server_errors_are_retried(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    salesforce.count("SELECT COUNT() FROM Product2")
    sf_sandbox.sf_put("faults", {"fail_next": [{"status": 503}, {"status": 500, "errorCode": "UNKNOWN_EXCEPTION"}]})
    assert salesforce.upsert("Product2", "AFAS_Item_Code__c", products(1))[0].success
    sf_sandbox.sf_put("faults", {"fail_next": [{"status": 503}] * 10})
    with pytest.raises(SalesforceServerError):
        salesforce.count("SELECT COUNT() FROM Product2")


def test_request_limit_exceeded_stops_at_once(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    salesforce.count("SELECT COUNT() FROM Product2")
    sf_sandbox.sf_put("limits", {"max": 500, "used": 500})
    before = sf_sandbox.sf_calls()["total"]
    with pytest.raises(SalesforceLimitExceeded) as caught:
        salesforce.upsert("Product2", "AFAS_Item_Code__c", products(1))
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert sf_sandbox.sf_calls()["total"] == before + 1, "not retried"


def test_api_usage_follows_sforce_limit_info(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    sf_sandbox.sf_put("limits", {"max": 9_000, "used": 1_234})
    salesforce.count("SELECT COUNT() FROM Product2")
    usage = salesforce.api_usage
    assert usage is not None and (usage.used, usage.limit, usage.remaining) == (1_235, 9_000, 7_765)


def test_expired_session_is_renewed_once(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    salesforce.count("SELECT COUNT() FROM Product2")
    sf_sandbox.sf_control.delete("sessions")
    assert salesforce.count("SELECT COUNT() FROM Pricebook2 WHERE IsStandard = true") == 1
    sf_sandbox.sf_put("sessions", {"seconds": 0})  # every new session is born expired
    with pytest.raises(SalesforceAuthError, match="cannot be renewed"):
        salesforce.count("SELECT COUNT() FROM Product2")


def test_a_given_token_is_not_renewed(sf_sandbox: Sandbox, salesforce: SalesforceClient) -> None:
    salesforce.count("SELECT COUNT() FROM Product2")
    settings = sf_sandbox.sf_settings(
        auth="token", instance_url=salesforce.sf.base_url.split("/services")[0], access_token=salesforce.sf.session_id
    )
    sf_sandbox.sf_control.delete("sessions")
    with SalesforceClient(settings, retry=FAST_RETRY) as client, pytest.raises(SalesforceAuthError):
        client.count("SELECT COUNT() FROM Product2")


def test_refused_request_keeps_salesforces_error(salesforce: SalesforceClient) -> None:
    with pytest.raises(SalesforceRequestError) as caught:
        salesforce.count("SELECT COUNT() FROM Product2 WHERE")
    assert caught.value.code == "MALFORMED_QUERY" and caught.value.status == 400


def test_iter_query_streams_every_page(salesforce: SalesforceClient) -> None:
    family = unique("STREAM")
    salesforce.upsert("Product2", "AFAS_Item_Code__c", products(2_300, Family=family))
    rows = salesforce.iter_query(f"SELECT Id, Name, AFAS_Parent_Item__r.Name FROM Product2 WHERE Family = '{family}'")
    first = next(rows)
    assert set(first) == {"Id", "Name", "AFAS_Parent_Item__r"}, "no attributes key"
    assert 1 + sum(1 for _ in rows) == 2_300


def test_ids_by_external_id_in_requests_that_fit_the_uri_limit(
    salesforce: SalesforceClient, sf_sandbox: Sandbox
) -> None:
    # 40 characters: the most AFAS_Item_Code__c holds; 600 of them are ~27 KB in a URI, which takes 16,384.
    records = [{"AFAS_Item_Code__c": unique("LOOKUP-" + "X" * 22), "Name": "lookup"} for _ in range(600)]
    outcomes = salesforce.upsert("Product2", "AFAS_Item_Code__c", records)
    assert all(o.success for o in outcomes)
    sf_sandbox.sf_control.delete("calls")
    wanted = [str(r["AFAS_Item_Code__c"]) for r in records] + ["NOT-THERE"]
    found = salesforce.ids_by_external_id("Product2", "AFAS_Item_Code__c", [w.lower() for w in wanted])
    assert found == {str(r["AFAS_Item_Code__c"]).lower(): o.id for r, o in zip(records, outcomes, strict=True)}
    assert sf_sandbox.sf_calls()["by_endpoint"]["GET query"] == 2, "as few requests as the limit allows"


def test_describe_is_cached(salesforce: SalesforceClient, sf_sandbox: Sandbox) -> None:
    salesforce.describe("Product2")
    before = sf_sandbox.sf_calls()["total"]
    assert salesforce.describe("Product2")["name"] == "Product2"
    assert sf_sandbox.sf_calls()["total"] == before


def test_preflight_lists_everything_missing_at_once(salesforce: SalesforceClient) -> None:
    salesforce.preflight({"Product2": ["Name", "AFAS_Item_Code__c"], "Account": ["AFAS_Debtor_Id__c"]})
    with pytest.raises(SalesforceSchemaError) as caught:
        salesforce.preflight(
            {"Product2": ["Name", "Colour__c", "Size__c"], "Shipment": ["TrackingNumber"], "Account": ["Name"]}
        )
    assert caught.value.missing == {"Product2": ["Colour__c", "Size__c"], "Shipment": []}
    assert "Colour__c" in str(caught.value) and "Shipment" in str(caught.value)


def test_ca_bundle_cannot_be_overridden_by_the_environment(
    sf_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
    with SalesforceClient(sf_sandbox.sf_settings(), retry=FAST_RETRY) as client:
        assert client.count("SELECT COUNT() FROM Pricebook2") >= 1


def test_tls_is_verified_without_the_ca(sf_sandbox: Sandbox) -> None:
    with SalesforceClient(sf_sandbox.sf_settings(ca_bundle=None), retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(SalesforceConnectionError):
            client.count("SELECT COUNT() FROM Pricebook2")
