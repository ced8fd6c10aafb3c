"""A Salesforce → AFAS flow declared by one YAML file and no Python (mappings/examples/shop_accounts.yaml):
accounts made in Salesforce become AFAS debtors (KnSalesRelationOrg), the debtor id written back; run
against the sandboxes, whose UpdateConnector validates the body as Profit does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.generic_out import ToAfasFlow, afas_body
from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS, ToAfasMapping, load_to_afas_mapping
from afas_sf_assets.salesforce.errors import SalesforceRequestError
from afas_sf_assets.sync.state import RecordStatus
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.flows.conftest import line_of, sync
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce
from afas_sf_assets_tests.sandbox_process import Sandbox

EXAMPLE = DEFAULT_MAPPINGS / "examples" / "shop_accounts.yaml"
FLOW = "shop_accounts"


def shop_account(org: Org, name: str, email: str, **values: Any) -> str:
    """What the B2B shop does: a business account in Salesforce, with the e-mail AFAS will know it by."""
    account = {
        "Name": name,
        "AFAS_Email__c": email,
        "BillingStreet": "Marktplein 7",
        "BillingPostalCode": "3511 LB",
        "BillingCity": "Utrecht",
        "BillingCountryCode": "BE",
        **values,
    }
    return str(plain_salesforce(org.sandbox).Account.create(account)["id"])


def debtors_with(org: Org, email: str) -> list[dict[str, Any]]:
    return [d for d in org.sandbox.rows("AfasSf_Debtors") if (d.get("Email") or "").lower() == email]


def flow_of(org: Org, mapping: ToAfasMapping | None = None) -> ToAfasFlow:
    engine = org.engine()
    return ToAfasFlow(mapping or load_to_afas_mapping(EXAMPLE), engine.afas, engine.salesforce, org.state)


def test_the_body_is_built_from_field_paths() -> None:
    body = afas_body(
        {"CuId": "EUR", "KnOrganisation.Nm": "X", "KnOrganisation.KnBasicAddressAdr.Rs": "Y", "PaCd": None}
    )
    assert body == {
        "Fields": {"CuId": "EUR"},
        "Objects": [
            {
                "KnOrganisation": {
                    "Element": {
                        "Fields": {"Nm": "X"},
                        "Objects": [{"KnBasicAddressAdr": {"Element": {"Fields": {"Rs": "Y"}}}}],
                    }
                }
            }
        ],
    }


def test_new_accounts_become_debtors_once_known_emails_reuse_theirs_and_a_bad_row_fails_alone(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    known = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d.get("Email") and d.get("CompanyName"))
    new = shop_account(org, "Nieuwe Webklant B.V.", "inkoop@webklant.example")
    existing = shop_account(org, "Bekende Klant", known["Email"].upper())
    bad = shop_account(org, "Te Lange Postcode B.V.", "info@postcode.example", BillingPostalCode="1234 AB extra lang")
    flow = flow_of(org)

    report = flow.run(run_id="out-1")
    assert (report.created, report.counts.get("found_in_afas"), report.failed) == (1, 1, 1), report.failures
    (debtor,) = debtors_with(org, "inkoop@webklant.example")
    assert (debtor["CompanyName"], debtor["BillingCity"], debtor["BillingCountry"]) == (
        "Nieuwe Webklant B.V.",
        "Utrecht",
        "B",
    )
    sf = plain_salesforce(org.sandbox)
    assert sf.Account.get(new)["AFAS_Debtor_Id__c"] == debtor["DebtorId"]
    assert sf.Account.get(existing)["AFAS_Debtor_Id__c"] == known["DebtorId"], "found by e-mail, not made again"
    (failure,) = report.failures
    assert (failure.key, failure.code) == (bad, "AFAS_REFUSED") and "ZpCd" in failure.message
    assert debtors_with(org, "info@postcode.example") == []

    org.sandbox.reset_calls()
    again = flow.run(run_id="out-2")
    assert (again.created, again.updated, again.failed) == (0, 0, 1), "only the failed row is tried again"
    writes = {k: v for k, v in org.sandbox.calls()["by_endpoint"].items() if not k.startswith("GET")}
    assert writes == {"POST connectors/KnSalesRelationOrg": 1}, "the failed row's insert, nothing else"

    sf.Account.update(bad, {"BillingPostalCode": "1234 AB"})
    fixed = flow.run(run_id="out-3")
    assert (fixed.created, fixed.failed) == (1, 0)
    assert len(debtors_with(org, "info@postcode.example")) == 1
    assert org.state.counts(FLOW) == {"synced": 3}

    # From here AFAS is the master: the customers flow keeps these accounts, and makes no second one.
    org.engine().run(CUSTOMERS, run_id="customers")
    holding = [a["Id"] for a in org.sandbox.sf_records("Account") if a.get("AFAS_Debtor_Id__c") == known["DebtorId"]]
    assert holding == [existing]


def test_an_account_for_a_debtor_salesforce_already_holds_fails_naming_the_other_record(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    org.engine().run(CUSTOMERS, run_id="setup")
    known = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d.get("Email") and d.get("CompanyName"))
    twin = shop_account(org, "Dubbel", known["Email"])
    report = flow_of(org).run(run_id="out-1")
    (failure,) = report.failures
    assert (failure.key, failure.code, failure.field) == (twin, "DUPLICATE_VALUE", "AFAS_Debtor_Id__c")
    assert "duplicate value" in failure.message and report.created == 0


def test_a_crash_after_afas_took_the_debtor_never_makes_a_second_one(
    fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = fresh_org()
    account = shop_account(org, "Crash B.V.", "crash@example.com")
    flow = flow_of(org)
    original = flow.salesforce.update_by_id

    def crash(sobject: str, records: Any) -> Any:
        raise ConnectionError("the process died here")

    monkeypatch.setattr(flow.salesforce, "update_by_id", crash)
    with pytest.raises(ConnectionError):
        flow.run(run_id="out-1")
    monkeypatch.setattr(flow.salesforce, "update_by_id", original)
    assert len(debtors_with(org, "crash@example.com")) == 1
    org.state.reset(FLOW)  # even with the ledger lost, AFAS itself is asked first
    report = flow.run(run_id="out-2")
    assert (report.created, report.counts.get("found_in_afas"), report.counts.get("written_back")) == (0, 1, 1)
    (debtor,) = debtors_with(org, "crash@example.com")
    assert plain_salesforce(org.sandbox).Account.get(account)["AFAS_Debtor_Id__c"] == debtor["DebtorId"]


def test_a_failed_write_back_is_finished_by_the_next_run_without_sending_again(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    account = shop_account(org, "Terugschrijf B.V.", "terug@example.com")
    flow = flow_of(org)
    org.sandbox.sf_put("faults", {"fail_next": [{"status": 400, "match": "composite/sobjects", "method": "PATCH"}]})
    with pytest.raises(SalesforceRequestError):
        flow.run(run_id="out-1")
    entry = org.state.entry(FLOW, account)
    assert entry is not None and entry.status is RecordStatus.SYNCED and entry.target_id, "kept as AFAS answered"
    org.sandbox.sf_put("faults", {})
    org.sandbox.reset_calls()
    second = flow.run(run_id="out-2")
    assert (second.created, second.updated, second.counts.get("written_back")) == (0, 0, 1)
    assert plain_salesforce(org.sandbox).Account.get(account)["AFAS_Debtor_Id__c"] == entry.target_id
    assert not [k for k in org.sandbox.calls()["by_endpoint"] if not k.startswith("GET")], "AFAS is not written"
    assert len(debtors_with(org, "terug@example.com")) == 1


def test_with_update_on_a_change_in_salesforce_updates_the_afas_record_by_its_key(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    example = load_to_afas_mapping(EXAMPLE)
    mapping = example.model_copy(
        update={
            "source": example.source.model_copy(update={"where": "AFAS_Email__c LIKE '%@update.example'"}),
            "target": example.target.model_copy(update={"update": True}),
        }
    )
    account = shop_account(org, "Update B.V.", "info@update.example", Phone="030 123 4567")
    flow = flow_of(org, mapping)
    assert flow.run(run_id="out-1").created == 1
    assert flow.run(run_id="out-2").updated == 0, "the write-back alone changes nothing worth sending"

    plain_salesforce(org.sandbox).Account.update(account, {"Phone": "030 765 4321", "BillingCity": "Zeist"})
    report = flow.run(run_id="out-3")
    assert (report.created, report.updated) == (0, 1)
    (debtor,) = debtors_with(org, "info@update.example")
    assert (debtor["Phone"], debtor["BillingCity"]) == ("030 765 4321", "Zeist")


def test_a_dry_run_plans_without_writing_anywhere(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    account = shop_account(org, "Plan B.V.", "plan@example.com")
    report = flow_of(org).run(run_id="dry", dry_run=True)
    assert report.counts.get("planned_inserts") == 1
    assert debtors_with(org, "plan@example.com") == []
    assert plain_salesforce(org.sandbox).Account.get(account)["AFAS_Debtor_Id__c"] is None
    assert org.state.counts(FLOW) == {}


def test_through_dagster_the_flow_is_an_asset_after_customers_its_sensor_asks_for_it_and_a_rerun_sends_nothing(
    world: tuple[Sandbox, dict[str, str], list[str]],
) -> None:
    box, env, _ = world
    account = str(
        plain_salesforce(box).Account.create({"Name": "Dagster B.V.", "AFAS_Email__c": "d@dagster.example"})["id"]
    )
    probe = (
        f"FLOW = {FLOW!r}"
        + """
import json, dagster as dg
from afas_sf_assets.definitions import defs
graph = defs.resolve_asset_graph()
sensor = next(s for s in defs.sensors if s.name == "salesforce_shop_accounts")
with dg.instance_for_test() as instance:
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
        result = sensor(context)
print(json.dumps({
    "parents": sorted(k.to_user_string() for k in graph.get(dg.AssetKey(["afas_targets", FLOW])).parent_keys),
    "requested": [[k.to_user_string() for k in r.asset_selection] for r in result.run_requests],
}))
"""
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.splitlines()[-1])
    assert shown == {"parents": ["salesforce/customers"], "requested": [["afas_targets/shop_accounts"]]}

    first = sync(env, "--select", "shop_accounts")
    assert "created=1" in line_of(first, "shop_accounts"), first
    (debtor,) = [d for d in box.rows("AfasSf_Debtors") if d.get("Email") == "d@dagster.example"]
    assert plain_salesforce(box).Account.get(account)["AFAS_Debtor_Id__c"] == debtor["DebtorId"]
    second = sync(env, "--select", "shop_accounts")
    assert "read=0" in line_of(second, "shop_accounts"), second


def test_near_the_api_limit_it_stops_before_sending_and_the_next_run_resumes(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    account = shop_account(org, "Budget B.V.", "budget@example.com")
    engine = org.engine()
    flow = ToAfasFlow(load_to_afas_mapping(EXAMPLE), engine.afas, engine.salesforce, org.state, api_reserve=0.2)
    org.sandbox.sf_put("limits", {"max": 1000, "used": 850})
    stopped = flow.run(run_id="out-1")
    assert (stopped.status, stopped.created) == ("stopped_budget", 0)
    assert "kept in reserve" in (stopped.note or "")
    assert debtors_with(org, "budget@example.com") == []
    org.sandbox.sf_put("limits", {"max": 1000, "used": 0})
    resumed = flow.run(run_id="out-2")
    assert (resumed.status, resumed.created) == ("ok", 1)
    (debtor,) = debtors_with(org, "budget@example.com")
    assert plain_salesforce(org.sandbox).Account.get(account)["AFAS_Debtor_Id__c"] == debtor["DebtorId"]
