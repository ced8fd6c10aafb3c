"""`afas-sf demo`: start both sandboxes, run every flow through Dagster, change AFAS, run again, print it all."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import httpx

from afas_sf_assets.headless import SyncResult, ensure_dagster_home, sync, where
from afas_sf_assets.sandbox.runner import SandboxOptions, run_sandboxes
from afas_sf_assets.sync.state import default_state_url

NEW = " (nieuw)"


def _print(title: str, result: SyncResult) -> None:
    print(f"\n{title}  (Dagster run {result.run_id})")
    for summary in result.summaries:
        print("  " + summary.line())
    for error in result.errors:
        print(f"  FAILED: {error}")


def run_demo(directory: Path, *, seed: int) -> int:
    home = ensure_dagster_home()
    fresh = not (directory / "salesforce" / "org.sqlite").exists()
    state_url = default_state_url()
    if fresh and state_url.startswith("sqlite:///"):
        # A new sandbox org: the ledger of an earlier one would describe records that do not exist here.
        Path(state_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    with run_sandboxes(SandboxOptions(directory, seed=seed, with_examples=True)) as env:
        os.environ.update(env)
        print(f"AFAS sandbox:       {env['AFAS_BASE_URL']}")
        print(f"Salesforce sandbox: {env['SF_LOGIN_URL']}  (settings in {directory / 'sandbox.env'})")
        print(where())

        first = sync()
        _print(
            "1. First run: everything AFAS holds goes to Salesforce"
            if fresh
            else f"1. Run on the sandboxes kept in {directory}: only what changed since the last demo travels",
            first,
        )

        with httpx.Client(
            base_url=env["AFAS_SANDBOX_URL"] + "/", verify=ssl.create_default_context(cafile=env["AFAS_CA_BUNDLE"])
        ) as control:
            item = next(r for r in control.get("rows/AfasSf_Items").json()["rows"] if r["ItemKind"] == "simple")
            # On kept sandboxes the item already has its new name: it changes back, so each demo has a change.
            renamed = (
                item["Description"].removesuffix(NEW)
                if item["Description"].endswith(NEW)
                else item["Description"] + NEW
            )
            control.post("rows/AfasSf_Items", json=[{"ItemCode": item["ItemCode"], "Description": renamed}])
        print(f"\n2. In AFAS, item {item['ItemCode']} is renamed to '{renamed}'")
        second = sync()
        _print("3. Second run: only that change travels; nothing else costs a write", second)

        order = _place_salesforce_order()
        print(f"\n4. In Salesforce, a sales rep enters and activates order {order} for a new customer,")
        print(f"   and the B2B shop signs up {_sign_up_in_the_shop()} (an account with an e-mail, no AFAS debtor yet)")
        third = sync()
        _print(
            "5. Third run: the order goes to AFAS (new debtor, AFAS number written back), no echo returns;\n"
            "   shop_accounts, a flow declared by mappings/examples/shop_accounts.yaml alone, makes the shop's\n"
            "   account an AFAS debtor and writes the debtor id back",
            third,
        )

        print("\nSee it in the Dagster UI (lineage, run logs, metadata per run), on these sandboxes and this instance:")
        print(f"  DAGSTER_HOME={home} .venv/bin/afas-sf dev --dir {directory}   (or simply: make dev)")
        print(
            f"Per-record activity: .venv/bin/afas-sf log --flow products --key {item['ItemCode']} -v "
            f"--env-file {directory}/sandbox.env"
        )
        return 0 if first.success and second.success and third.success else 1


def _sign_up_in_the_shop() -> str:
    """What a B2B shop does when a business customer registers: an account with the customer's e-mail."""
    from afas_sf_assets.salesforce.client import SalesforceClient
    from afas_sf_assets.salesforce.settings import SalesforceSettings

    name = "Groothandel De Zaak B.V."
    with SalesforceClient(SalesforceSettings()) as client:
        client.sf.Account.create(
            {
                "Name": name,
                "AFAS_Email__c": "inkoop@dezaak.example",
                "BillingStreet": "Havenweg 3",
                "BillingPostalCode": "1013 AB",
                "BillingCity": "Amsterdam",
                "BillingCountryCode": "NL",
            }
        )
    return name


def _place_salesforce_order() -> str:
    """What a sales rep does in Salesforce: a new business customer, two products, an activated order."""
    from afas_sf_assets.salesforce.client import SalesforceClient
    from afas_sf_assets.salesforce.settings import SalesforceSettings

    with SalesforceClient(SalesforceSettings()) as client:
        sf = client.sf
        account = sf.Account.create(
            {
                "Name": "Demo Webwinkel B.V.",
                "BillingStreet": "Marktplein 7",
                "BillingPostalCode": "3511 LB",
                "BillingCity": "Utrecht",
                "BillingCountryCode": "NL",
            }
        )["id"]
        sf.Contact.create(
            {"AccountId": account, "FirstName": "Demi", "LastName": "Demo", "Email": "inkoop@demo-webwinkel.example"}
        )
        book = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")["records"][0]["Id"]
        entries = sf.query(
            f"SELECT Id, UnitPrice FROM PricebookEntry WHERE Pricebook2Id = '{book}' "
            "AND CurrencyIsoCode = 'EUR' LIMIT 2"
        )["records"]
        order = sf.Order.create(
            {"AccountId": account, "EffectiveDate": "2026-11-28", "Status": "Draft", "Pricebook2Id": book}
        )["id"]
        for entry in entries:
            sf.OrderItem.create(
                {"OrderId": order, "PricebookEntryId": entry["Id"], "Quantity": 3, "UnitPrice": entry["UnitPrice"]}
            )
        sf.Order.update(order, {"Status": "Activated"})
        return str(order)
