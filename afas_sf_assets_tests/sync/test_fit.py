"""Values fitted to the org's describe before they are sent, and mappings checked against it before data moves."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.mapping.model import load_mapping
from afas_sf_assets.salesforce.errors import SalesforceSchemaError
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS
from afas_sf_assets.sync.fit import fit_payload, mapping_problems
from afas_sf_assets_tests.conftest import Org

DESCRIBE: dict[str, dict[str, Any]] = {
    "billingcity": {"name": "BillingCity", "type": "string", "length": 40},
    "unitprice": {"name": "UnitPrice", "type": "currency", "precision": 18, "scale": 2},
    "quantity": {"name": "Quantity", "type": "double", "precision": 18, "scale": 2},
    "effectivedate": {"name": "EffectiveDate", "type": "date"},
    "status": {
        "name": "Status",
        "type": "picklist",
        "length": 100,
        "restrictedPicklist": True,
        "picklistValues": [{"value": "Draft", "active": True}, {"value": "Activated", "active": True}],
    },
}


@pytest.mark.parametrize(
    ("payload", "code", "field", "words"),
    [
        ({"BillingCity": "x" * 41}, "STRING_TOO_LONG", "BillingCity", ("41 characters", "allows 40")),
        ({"UnitPrice": 1e20}, "NUMBER_OUTSIDE_VALID_RANGE", "UnitPrice", ("21 digits", "allows 16")),
        ({"Quantity": float("nan")}, "JSON_PARSER_ERROR", "Quantity", ("not a finite number",)),
        ({"EffectiveDate": "0001-01-01"}, "INVALID_TYPE_ON_FIELD_IN_RECORD", "EffectiveDate", ("1700-01-01",)),
        ({"Status": "Verzonden"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Status", ("Draft, Activated",)),
    ],
)
def test_a_value_the_org_would_refuse_names_the_field_and_the_limit(
    payload: dict[str, Any], code: str, field: str, words: tuple[str, ...]
) -> None:
    misfit = fit_payload(payload, DESCRIBE, set())
    assert misfit is not None and (misfit.code, misfit.field) == (code, field)
    assert all(word in misfit.message for word in words), misfit.message


def test_a_value_that_fits_passes_and_truncation_cuts_to_the_length() -> None:
    payload = {"BillingCity": "y" * 45, "UnitPrice": 10.5, "Unknown__c": "z" * 999}
    assert fit_payload(payload, DESCRIBE, {"billingcity"}) is None
    assert payload["BillingCity"] == "y" * 40


def custom_mappings(tmp_path: Path, edit: Callable[[str], str]) -> Path:
    directory = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, directory)
    path = directory / "customers.yaml"
    path.write_text(edit(path.read_text()))
    return directory


def long_city(org: Org) -> dict[str, Any]:
    debtor = next(d for d in org.sandbox.rows("AfasSf_Debtors") if d["CompanyName"])
    org.sandbox.upsert(
        "AfasSf_Debtors", [{"DebtorId": debtor["DebtorId"], "BillingCity": "Sint-Michielsgestel-" * 2 + "Noord"}]
    )
    return debtor


def test_a_city_longer_than_salesforce_takes_fails_that_debtor_only(fresh_org: Callable[..., Org]) -> None:
    org = fresh_org()
    debtor = long_city(org)
    report = org.engine().run(CUSTOMERS, run_id="run-1")
    (failure,) = [f for f in report.failures if f.key == debtor["DebtorId"]]
    assert (failure.code, failure.field) == ("STRING_TOO_LONG", "BillingCity")
    assert "45 characters; the org allows 40" in failure.message
    assert report.failed == 1 and report.created == len(org.sandbox.rows("AfasSf_Debtors")) - 1
    assert debtor["DebtorId"] not in org.records("Account", "AFAS_Debtor_Id__c"), "nothing half-written"


def test_a_mapping_may_truncate_to_the_orgs_length(fresh_org: Callable[..., Org], tmp_path: Path) -> None:
    org = fresh_org()
    debtor = long_city(org)
    mappings = custom_mappings(
        tmp_path,
        lambda text: text.replace(
            "  BillingCity: {from: BillingCity}", "  BillingCity: {from: BillingCity, too_long: truncate}"
        ),
    )
    engine = org.engine(mappings_dir=mappings)
    report = engine.run(CUSTOMERS, run_id="run-1")
    assert report.failed == 0
    assert (
        org.records("Account", "AFAS_Debtor_Id__c")[debtor["DebtorId"]]["BillingCity"]
        == ("Sint-Michielsgestel-" * 2)[:40]
    )
    again = engine.run(CUSTOMERS, run_id="run-2")
    assert (again.created, again.updated) == (0, 0), "a cut value is no change on the next run"


def test_a_country_code_falls_back_to_the_country_where_the_org_has_no_country_picklist(
    fresh_org: Callable[..., Org],
) -> None:
    org = fresh_org("multi_currency")
    report = org.engine().run(CUSTOMERS, run_id="run")
    assert report.failed == 0
    account = next(a for a in org.records("Account", "AFAS_Debtor_Id__c").values() if a.get("BillingStreet"))
    assert account["BillingCountry"] == "NL" and "BillingCountryCode" not in account


def test_the_preflight_lists_every_field_the_mapping_cannot_write_as_it_says(
    fresh_org: Callable[..., Org], tmp_path: Path
) -> None:
    org = fresh_org()
    mappings = custom_mappings(
        tmp_path,
        lambda text: text.replace(
            "  AccountNumber: {from: DebtorId}\n",
            "  AccountNumber: {from: DebtorId}\n"
            "  CreatedDate: {value: '2026-01-01T00:00:00Z'}\n"
            "  Nope__c: {from: DebtorId}\n",
            1,
        ),
    )
    with pytest.raises(SalesforceSchemaError) as caught:
        org.engine(mappings_dir=mappings).run(CUSTOMERS, run_id="run")
    message = str(caught.value)
    assert "Account: Nope__c" in message
    assert "fields.CreatedDate: Account.CreatedDate is read-only in this org" in message
    assert org.records("Account", "AFAS_Debtor_Id__c") == {}, "checked before any data moves"


def test_a_create_only_field_must_be_mapped_on_create() -> None:
    mapping = load_mapping(DEFAULT_MAPPINGS / "customers.yaml")
    org = {
        "Account": {
            name.lower(): {"name": name, "createable": True, "updateable": name != "AccountNumber"}
            for name in mapping.fields
        }
    }
    (problem,) = mapping_problems(mapping, [], org)
    assert problem == (
        "customers.yaml: fields.AccountNumber: Account.AccountNumber can only be set when a record is created; "
        "map it with `on: create`"
    )
