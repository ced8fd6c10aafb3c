"""Customers end to end: each debtor lands as the right kind of record, matched by e-mail then debtor id."""

from __future__ import annotations

from collections.abc import Callable

from afas_sf_assets.flows.customers import CUSTOMERS, DEFAULT_ACCOUNT_KEY
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.sandbox.sf_helpers import plain_salesforce


def test_plain_org_organisations_with_contact_and_persons_under_the_default_account(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    debtors = org.sandbox.rows("AfasSf_Debtors")
    report = org.engine().run(CUSTOMERS, run_id="run")
    assert report.failed == 0 and report.quarantined == 0
    accounts = org.records("Account", "AFAS_Debtor_Id__c")
    contacts = org.records("Contact", "AFAS_Contact_Key__c")
    default_account = accounts[DEFAULT_ACCOUNT_KEY]["Id"]
    for debtor in debtors:
        contact = contacts[debtor["DebtorId"]]
        assert contact["LastName"] == debtor["ContactLastName"]
        assert contact.get("Email") == (debtor["Email"].lower() if debtor["Email"] else None)
        if debtor["CompanyName"]:
            account = accounts[debtor["DebtorId"]]
            assert account["Name"] == debtor["CompanyName"]
            assert account["AFAS_Price_Group__c"] == debtor["PriceGroup"]
            assert account["BillingCountryCode"] == "NL"
            assert account["BillingStreet"].startswith(debtor["BillingStreet"])
            assert contact["AccountId"] == account["Id"]
        else:
            assert debtor["DebtorId"] not in accounts, "a person is no business account"
            assert contact["AccountId"] == default_account
    assert report.created == len(debtors)


def test_person_accounts_org(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org("multi_currency,person_accounts")
    debtors = org.sandbox.rows("AfasSf_Debtors")
    report = org.engine().run(CUSTOMERS, run_id="run")
    assert report.failed == 0
    accounts = org.records("Account", "AFAS_Debtor_Id__c")
    persons = [d for d in debtors if not d["CompanyName"]]
    assert persons
    for debtor in persons:
        account = accounts[debtor["DebtorId"]]
        assert account["IsPersonAccount"] is True
        assert account["LastName"] == debtor["ContactLastName"]
        assert account.get("PersonEmail") == (debtor["Email"].lower() if debtor["Email"] else None)
    for debtor in debtors:
        if debtor["CompanyName"]:
            assert accounts[debtor["DebtorId"]]["IsPersonAccount"] is False
    assert DEFAULT_ACCOUNT_KEY not in accounts, "no default account where Person Accounts exist"


def test_debtors_sharing_an_email_are_reported_not_merged(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    debtors = org.sandbox.rows("AfasSf_Debtors")
    by_email: dict[str, list[str]] = {}
    for debtor in debtors:
        if debtor["Email"]:
            by_email.setdefault(debtor["Email"].lower(), []).append(debtor["DebtorId"])
    shared = [ids for ids in by_email.values() if len(ids) > 1]
    assert shared, "the demo data has debtors sharing an e-mail"
    report = org.engine().run(CUSTOMERS, run_id="run")
    warned = {f.key for f in report.failures if f.code == "SHARED_EMAIL"}
    assert {key for ids in shared for key in ids} <= warned
    contacts = org.records("Contact", "AFAS_Contact_Key__c")
    for ids in shared:
        assert len({contacts[i]["Id"] for i in ids}) == len(ids), "each debtor keeps its own record"
    logged = org.state.activity(flow="customers", key=shared[0][0])
    assert [a.error for a in logged if a.outcome == "warning" and (a.error or "").startswith("SHARED_EMAIL")], (
        "afas-sf log shows the warning with the record"
    )


def test_existing_salesforce_records_are_adopted_by_email(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    debtors = org.sandbox.rows("AfasSf_Debtors")
    emails = [d["Email"].lower() for d in debtors if d["Email"]]
    company = next(d for d in debtors if d["CompanyName"] and d["Email"] and emails.count(d["Email"].lower()) == 1)
    person = next(d for d in debtors if not d["CompanyName"] and d["Email"] and emails.count(d["Email"].lower()) == 1)
    sf = plain_salesforce(org.sandbox)
    # Made by hand in Salesforce before the integration existed, with the e-mail typed differently.
    account = sf.Account.create({"Name": "Handmatig aangemaakt"})["id"]
    contact = sf.Contact.create({"LastName": "Hand", "Email": company["Email"].upper(), "AccountId": account})["id"]
    lone = sf.Contact.create({"LastName": "Los", "Email": person["Email"]})["id"]
    report = org.engine().run(CUSTOMERS, run_id="run")
    assert report.counts["matched_by_email"] == 2
    accounts = org.records("Account", "AFAS_Debtor_Id__c")
    contacts = org.records("Contact", "AFAS_Contact_Key__c")
    assert accounts[company["DebtorId"]]["Id"] == account
    assert accounts[company["DebtorId"]]["Name"] == company["CompanyName"], "then updated from AFAS"
    assert contacts[company["DebtorId"]]["Id"] == contact
    assert contacts[person["DebtorId"]]["Id"] == lone
    assert (
        len(
            [c for c in org.sandbox.sf_records("Contact") if (c.get("Email") or "").lower() == company["Email"].lower()]
        )
        == 1
    ), "no second contact with that e-mail"


def test_debtor_without_email_is_matched_by_debtor_id_and_second_run_writes_nothing(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org()
    engine = org.engine()
    engine.run(CUSTOMERS, run_id="run-1")
    no_email = next(d for d in org.sandbox.rows("AfasSf_Debtors") if not d["Email"] and d["CompanyName"])
    org.sandbox.upsert("AfasSf_Debtors", [{"DebtorId": no_email["DebtorId"], "Phone": "020-7654321"}])
    org.sandbox.sf_control.delete("calls")
    report = engine.run(CUSTOMERS, run_id="run-2")
    assert (report.updated, report.created) == (1, 0)
    assert org.records("Account", "AFAS_Debtor_Id__c")[no_email["DebtorId"]]["Phone"] == "020-7654321"
    org.sandbox.sf_control.delete("calls")
    engine.run(CUSTOMERS, run_id="run-3")
    assert org.writes() == {}


def test_a_person_without_a_last_name_is_quarantined(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    org.sandbox.upsert(
        "AfasSf_Debtors",
        [
            {
                "DebtorId": "99001",
                "CompanyName": None,
                "ContactLastName": None,
                "ContactFirstName": "Naamloos",
                "Email": "x@example.nl",
            }
        ],
    )
    report = org.engine().run(CUSTOMERS, run_id="run")
    (failure,) = [f for f in report.failures if f.key == "99001"]
    assert failure.outcome == "quarantined" and "ContactLastName" in failure.message


def test_a_large_batch_of_long_hostile_emails_is_matched_within_salesforces_request_limits(
    fresh_org: Callable[..., Org],
) -> None:
    """At 1,000 debtors one `Email IN (…)` would be a URI of ~100 KB, which Salesforce (and the sandbox)
    refuses with 414; the look-ups are split to fit and every address is matched."""
    org = fresh_org()
    template = dict(org.sandbox.rows("AfasSf_Debtors")[0])
    domain = "groothandel-verlichting-tuinmeubelen-en-meer.example"  # 80 characters at most, as Email
    debtors = [
        {
            **template,
            "DebtorId": f"9{n:05d}",
            "CompanyName": f"Bloemen & Zoon 'Ülrich' {n}",
            "Email": f"o'brien.{n}@{domain}",
        }
        for n in range(1_000)
    ]
    org.sandbox.upsert("AfasSf_Debtors", debtors)
    sf = plain_salesforce(org.sandbox)
    adopted = debtors[-1]
    account = sf.Account.create({"Name": "Handmatig aangemaakt"})["id"]
    contact = sf.Contact.create({"LastName": "Hand", "Email": adopted["Email"].upper(), "AccountId": account})["id"]
    org.sandbox.sf_reset()
    report = org.engine().run(CUSTOMERS, run_id="run")
    assert report.counts["failed"] == 0, report.failures[:3]
    assert report.counts["matched_by_email"] >= 1
    assert org.records("Contact", "AFAS_Contact_Key__c")[adopted["DebtorId"]]["Id"] == contact
    queries = org.sandbox.sf_calls()["by_endpoint"].get("GET query", 0)
    assert queries >= 2, "the look-up took more than one request"
