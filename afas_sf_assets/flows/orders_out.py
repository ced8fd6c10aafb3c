"""Orders placed in Salesforce → AFAS sales orders (or quotations, direct invoices, financial mutations).

Sending an order never happens twice: AFAS is asked first (the Salesforce order id is the AFAS
document's reference), the ledger keeps the AFAS number as soon as AFAS returns it, and the number is
written back onto the Salesforce order — so a crash between the AFAS write and the write-back ends,
on the next run, with the write-back only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from simple_salesforce.format import quote_soql_value

from afas_sf_assets.afas.client import AfasClient, element
from afas_sf_assets.afas.errors import AfasError
from afas_sf_assets.afas.filters import Where
from afas_sf_assets.mapping.model import load_yaml_model
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS
from afas_sf_assets.sync.report import Failure, FlowReport, measured
from afas_sf_assets.sync.state import ActivityEntry, LedgerEntry, RecordStatus, State

FLOW = "afas_orders"
# The flows whose Salesforce records an order to AFAS refers to.
AFTER = ("customers", "products")
CONNECTOR_TYPES = {
    "FbSales": ("order", "FbSalesLines"),
    "FbSalesQuotation": ("quote", "FbSalesQuotationLines"),
    "FbDirectInvoice": ("direct_invoice", "FbDirectInvoiceLines"),
    "FiEntries": ("financial_mutation", None),
}
_HOUSE_NUMBER = re.compile(r"^(?P<street>.*?)\s+(?P<number>\d+)\s*(?P<addition>\S.*)?$")


class DebtorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collective_account: str
    payment_condition: str
    default_debtor: str | None = None
    update_address: bool = True


class FinancialMutationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    journal: str
    revenue_account: str


class OrdersOutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flow: Literal["afas_orders"]
    statuses: list[str] = Field(min_length=1)
    connector: Literal["FbSales", "FbSalesQuotation", "FbDirectInvoice", "FiEntries"] = "FbSales"
    administration: int
    warehouse: str | None = None
    currency: str = "EUR"
    unit: str = "STK"
    debtor: DebtorSettings
    financial_mutation: FinancialMutationSettings | None = None
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    path: Path | None = None

    def waiting_for_afas(self) -> str:
        """SOQL condition for the Salesforce orders still to send: a status to send, no AFAS number yet,
        and not made from an AFAS document (those never go back)."""
        return (
            f"Status IN {quote_soql_value(self.statuses)} AND AFAS_Order_Number__c = null "
            "AND (AFAS_Origin__c = null OR AFAS_Origin__c != 'afas')"
        )

    def mapped(self, table: str, value: str | None, fallback: str | None = None) -> str | None:
        """A Salesforce value in AFAS's terms; no value gives the fallback, an unknown one `_default`."""
        values = self.value_maps.get(table, {})
        if value is None:
            return fallback
        return values.get(value, values.get("_default", fallback))


class Problem(Exception):
    """This order cannot go (yet): the code and message end up in the ledger and the report."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def split_street(street: str | None) -> tuple[str | None, str | None, str | None]:
    """`Kerkstraat 12 A` → (`Kerkstraat`, `12`, `A`): AFAS keeps street, number and addition apart."""
    if not street:
        return None, None, None
    match = _HOUSE_NUMBER.match(street.strip())
    if not match:
        return street.strip(), None, None
    return match["street"], match["number"], match["addition"]


def _address(
    config: OrdersOutConfig, street: str | None, postcode: str | None, city: str | None, country: str | None
) -> dict[str, Any]:
    name, number, addition = split_street(street)
    return {
        k: v
        for k, v in {
            "CoId": config.mapped("countries", country, country or "NL"),
            "PbAd": False,
            "Ad": name,
            "HmNr": number,
            "HmAd": addition,
            "ZpCd": postcode,
            "Rs": city,
            "ResZip": False,
        }.items()
        if v is not None
    }


def delivery_text(order: dict[str, Any]) -> str | None:
    street = order.get("ShippingStreet")
    place = " ".join(p for p in (order.get("ShippingPostalCode"), order.get("ShippingCity")) if p)
    parts = [p for p in (street, place, order.get("ShippingCountryCode") or order.get("ShippingCountry")) if p]
    return ", ".join(parts)[:255] or None


class OrdersToAfas:
    def __init__(
        self, afas: AfasClient, salesforce: SalesforceClient, state: State, *, config_path: Path | None = None
    ) -> None:
        self.afas = afas
        self.salesforce = salesforce
        self.state = state
        self.config = load_yaml_model(
            config_path or DEFAULT_MAPPINGS / "afas_orders.yaml", OrdersOutConfig, "orders-to-AFAS settings file"
        )

    def run(self, *, run_id: str, dry_run: bool = False) -> FlowReport:
        with measured(FlowReport(FLOW, run_id, dry_run=dry_run), self.afas, self.salesforce) as report:
            person = (
                ", Account.IsPersonAccount, Account.PersonEmail, Account.FirstName, Account.LastName"
                if self.salesforce.has_person_accounts()
                else ""
            )
            order_fields = self.salesforce.org_fields("Order") or {}
            # Orgs without State and Country Picklists have only the free-text country.
            country = "CountryCode" if "billingcountrycode" in order_fields else "Country"
            currency = "CurrencyIsoCode, " if "currencyisocode" in order_fields else ""
            soql = (
                f"SELECT Id, OrderNumber, Status, EffectiveDate, {currency}PoNumber, AccountId, "
                "AFAS_Payment_Condition__c, AFAS_Payment_Method__c, Account.Name, Account.AFAS_Debtor_Id__c, "
                "Account.AFAS_Email__c, Account.BillingStreet, Account.BillingPostalCode, Account.BillingCity, "
                f"Account.Billing{country}, BillingStreet, BillingPostalCode, BillingCity, Billing{country}, "
                f"ShippingStreet, ShippingPostalCode, ShippingCity, Shipping{country}{person} FROM Order "
                f"WHERE {self.config.waiting_for_afas()} ORDER BY Id"
            )
            batch: list[dict[str, Any]] = []
            for order in self.salesforce.iter_query(soql):
                batch.append(order)
                if len(batch) == 200:
                    self._batch(batch, report, run_id, dry_run)
                    batch = []
            if batch:
                self._batch(batch, report, run_id, dry_run)
            return report

    # -- one batch ----------------------------------------------------------------------------------

    def _batch(self, orders: list[dict[str, Any]], report: FlowReport, run_id: str, dry_run: bool) -> None:
        report.read += len(orders)
        ids = [o["Id"] for o in orders]
        ledger = self.state.entries(FLOW, ids)
        doc_type = CONNECTOR_TYPES[self.config.connector][0]
        in_afas = {
            str(row["Reference"]): str(row["DocumentNumber"])
            for row in self.afas.iter_rows(
                "AfasSf_SalesDocuments", key=("DocumentType", "DocumentNumber"), where=Where.any_of("Reference", ids)
            )
            if row.get("DocumentType") == doc_type
        }
        lines = self._lines(ids)
        contacts = self._first_contacts(orders)
        emails = self._emails(orders, contacts)
        entries: list[LedgerEntry] = []
        activity: list[ActivityEntry] = []
        write_backs: list[dict[str, Any]] = []

        def fail(
            order: dict[str, Any], sent: LedgerEntry | None, problem: Problem, sent_body: dict[str, Any] | None = None
        ) -> None:
            report.add_failure(Failure(order["Id"], "failed", problem.code, problem.field, problem.message))
            entries.append(
                LedgerEntry.trouble(
                    order["Id"], sent, RecordStatus.FAILED, problem.code, problem.field, problem.message
                )
            )
            activity.append(
                ActivityEntry(
                    run_id,
                    FLOW,
                    order["Id"],
                    "create",
                    "failed",
                    source=order,
                    sent=sent_body,
                    error=f"{problem.code}: {problem.message}",
                )
            )

        for order in orders:
            sent = ledger.get(order["Id"])
            number = sent.target_id if sent and sent.status is RecordStatus.SYNCED else in_afas.get(order["Id"])
            if number:
                # AFAS has it (an earlier run crashed before the write-back): only the write-back is due.
                report.count("already_in_afas")
                write_backs.append(self._write_back(order, doc_type, number))
                entries.append(LedgerEntry(order["Id"], number, None, RecordStatus.SYNCED))
                continue
            try:
                debtor, debtor_body = self._debtor(
                    order, emails.get(order["Id"]), contacts.get(order.get("AccountId") or ""), dry_run
                )
                body = self._document(order, debtor, lines.get(order["Id"], []))
            except Problem as problem:
                fail(order, sent, problem)
                continue
            if dry_run:
                report.created += 1
                continue
            try:
                result = self.afas.insert(self.config.connector, body)
            except AfasError as exc:
                fail(order, sent, Problem("AFAS_REFUSED", exc.external_message or str(exc)), sent_body=body)
                continue
            number = str(result.get("OrNu") or result.get("EnNo"))
            # Kept before anything else can fail: the next run then only writes back.
            self.state.save(FLOW, [LedgerEntry(order["Id"], number, None, RecordStatus.SYNCED)])
            report.created += 1
            activity.append(
                ActivityEntry(
                    run_id,
                    FLOW,
                    order["Id"],
                    "create",
                    "created",
                    number,
                    source=order,
                    sent={"debtor": debtor_body, "document": body},
                )
            )
            write_backs.append(self._write_back(order, doc_type, number, debtor))
        self.state.save(FLOW, entries)
        self.state.log(activity)
        if write_backs and not dry_run:
            self._apply_write_backs(write_backs, report)

    def _write_back(
        self, order: dict[str, Any], doc_type: str, number: str, debtor: str | None = None
    ) -> dict[str, Any]:
        return {
            "order": {
                "Id": order["Id"],
                "AFAS_Order_Number__c": number,
                "AFAS_Order_Key__c": f"{doc_type}|{number}",
                "AFAS_Origin__c": "salesforce",
                "AFAS_Status__c": "Open",
            },
            "account": {"Id": order["AccountId"], "AFAS_Debtor_Id__c": debtor}
            if debtor and not (order.get("Account") or {}).get("AFAS_Debtor_Id__c")
            else None,
        }

    def _apply_write_backs(self, write_backs: list[dict[str, Any]], report: FlowReport) -> None:
        accounts = [w["account"] for w in write_backs if w["account"]]
        if accounts:
            # The debtor made for this order flows back onto the account it came from.
            self.salesforce.update_by_id("Account", accounts)
        for write_back, outcome in zip(
            write_backs, self.salesforce.update_by_id("Order", [w["order"] for w in write_backs]), strict=True
        ):
            if outcome.success:
                report.updated += 1
            else:
                report.add_failure(
                    Failure(
                        write_back["order"]["Id"],
                        "failed",
                        outcome.error_code or "?",
                        "AFAS_Order_Number__c",
                        outcome.errors[0].message,
                    )
                )

    # -- look-ups ------------------------------------------------------------------------------------

    def _lines(self, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        lines: dict[str, list[dict[str, Any]]] = {}
        for row in self.salesforce.query_in(
            "SELECT OrderId, Quantity, UnitPrice, Description, Product2.AFAS_Item_Code__c, Product2.Name "
            "FROM OrderItem WHERE OrderId IN {values} ORDER BY Id",
            ids,
        ):
            lines.setdefault(row["OrderId"], []).append(row)
        return lines

    def _first_contacts(self, orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Per account, its first contact with an e-mail (the contact person of a new debtor)."""
        accounts = {o["AccountId"] for o in orders if o.get("AccountId")}
        contacts: dict[str, dict[str, Any]] = {}
        if accounts:
            for row in self.salesforce.query_in(
                "SELECT AccountId, Email, FirstName, LastName FROM Contact WHERE "
                "AccountId IN {values} AND Email != null ORDER BY Id",
                sorted(accounts),
            ):
                contacts.setdefault(row["AccountId"], row)
        return contacts

    @staticmethod
    def _emails(orders: list[dict[str, Any]], contacts: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The order's e-mail: the account's (person or AFAS e-mail), else its first contact's."""
        emails: dict[str, str] = {}
        for order in orders:
            account = order.get("Account") or {}
            email = (
                account.get("PersonEmail")
                or account.get("AFAS_Email__c")
                or (contacts.get(order.get("AccountId") or "") or {}).get("Email")
            )
            if email:
                emails[order["Id"]] = str(email).strip().lower()
        return emails

    def _debtor(
        self, order: dict[str, Any], email: str | None, contact: dict[str, Any] | None, dry_run: bool
    ) -> tuple[str, dict[str, Any] | None]:
        account = order.get("Account") or {}
        if account.get("AFAS_Debtor_Id__c"):
            return str(account["AFAS_Debtor_Id__c"]), None
        if email:
            found = [
                row
                for row in self.afas.iter_rows(
                    "AfasSf_Debtors", key=("DebtorId",), where=Where.any_of("Email", [email])
                )
            ]
            if len(found) > 1:
                raise Problem(
                    "AMBIGUOUS_DEBTOR",
                    f"e-mail {email} belongs to AFAS debtors "
                    f"{', '.join(str(r['DebtorId']) for r in found)}; set the debtor id on the account",
                    "Email",
                )
            if found:
                return str(found[0]["DebtorId"]), self._update_address(found[0], order, dry_run)
        elif self.config.debtor.default_debtor:
            return self.config.debtor.default_debtor, None
        else:
            raise Problem(
                "NO_DEBTOR",
                "the order's account has no AFAS debtor id and no e-mail, and no default debtor is configured",
                "Email",
            )
        connector, body = self._new_debtor(order, email, contact or {})
        if dry_run:
            return "(new)", body
        try:
            result = self.afas.insert(connector, body)
        except AfasError as exc:
            raise Problem("DEBTOR_REFUSED", f"AFAS refused the new debtor: {exc.external_message or exc}") from None
        return str(result["DbId"]), body

    def _update_address(self, debtor: dict[str, Any], order: dict[str, Any], dry_run: bool) -> dict[str, Any] | None:
        """The debtor found by e-mail gets the billing address Salesforce has, when it differs (as configured)."""
        account = order.get("Account") or {}
        if not self.config.debtor.update_address or not (account.get("BillingStreet") or account.get("BillingCity")):
            return None
        street, number, addition = split_street(account.get("BillingStreet"))
        wanted = (
            street,
            int(number) if number else None,
            addition,
            account.get("BillingPostalCode"),
            account.get("BillingCity"),
        )
        current = (
            debtor.get("BillingStreet"),
            debtor.get("BillingHouseNumber"),
            debtor.get("BillingHouseNumberAddition"),
            debtor.get("BillingPostalCode"),
            debtor.get("BillingCity"),
        )
        if wanted == current:
            return None
        address = _address(
            self.config,
            account.get("BillingStreet"),
            account.get("BillingPostalCode"),
            account.get("BillingCity"),
            account.get("BillingCountryCode") or account.get("BillingCountry"),
        )
        organisation = bool(debtor.get("CompanyName"))
        party = "KnOrganisation" if organisation else "KnPerson"
        body = element(
            {"DbId": str(debtor["DebtorId"])},
            objects={party: element({}, objects={"KnBasicAddressAdr": element(address)})},
        )
        if not dry_run:
            try:
                self.afas.update("KnSalesRelationOrg" if organisation else "KnSalesRelationPer", body)
            except AfasError as exc:
                raise Problem(
                    "DEBTOR_UPDATE_REFUSED",
                    f"AFAS refused the address update of debtor {debtor['DebtorId']}: {exc.external_message or exc}",
                ) from None
        return {"updated": body}

    def _new_debtor(
        self, order: dict[str, Any], email: str | None, contact: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """A person debtor for a person account, else an organisation debtor with its contact person."""
        account = order.get("Account") or {}
        settings = self.config.debtor
        # The order's billing address, else the account's (the API does not copy it onto the order).
        source = order if order.get("BillingStreet") or order.get("BillingCity") else account
        address = _address(
            self.config,
            source.get("BillingStreet"),
            source.get("BillingPostalCode"),
            source.get("BillingCity"),
            source.get("BillingCountryCode") or source.get("BillingCountry"),
        )
        terms = self.config.mapped("payment_terms", order.get("AFAS_Payment_Condition__c"), settings.payment_condition)
        fields = {
            "CuId": order.get("CurrencyIsoCode") or self.config.currency,
            "PaCd": terms,
            "ColA": settings.collective_account,
        }
        if account.get("IsPersonAccount"):
            person = {
                "MatchPer": "7",
                "PadAdr": True,
                "AutoNum": True,
                "FiNm": account.get("FirstName"),
                "LaNm": account.get("LastName"),
                "EmAd": email,
            }
            return "KnSalesRelationPer", element(
                fields,
                objects={
                    "KnPerson": element(
                        {k: v for k, v in person.items() if v is not None},
                        objects={"KnBasicAddressAdr": element(address)},
                    )
                },
            )
        organisation = {"MatchOga": "6", "PadAdr": True, "AutoNum": True, "Nm": account.get("Name"), "EmAd": email}
        objects: dict[str, Any] = {"KnBasicAddressAdr": element(address)}
        if contact.get("LastName"):
            objects["KnContact"] = element(
                {},
                objects={
                    "KnPerson": element(
                        {
                            k: v
                            for k, v in {
                                "MatchPer": "7",
                                "AutoNum": True,
                                "FiNm": contact.get("FirstName"),
                                "LaNm": contact["LastName"],
                                "EmAd": contact.get("Email"),
                            }.items()
                            if v is not None
                        }
                    )
                },
            )
        return "KnSalesRelationOrg", element(fields, objects={"KnOrganisation": element(organisation, objects=objects)})

    def _document(self, order: dict[str, Any], debtor: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        codes = [str((line.get("Product2") or {}).get("AFAS_Item_Code__c") or "") for line in lines]
        nameless = [
            str((line.get("Product2") or {}).get("Name")) for line, code in zip(lines, codes, strict=True) if not code
        ]
        if nameless:
            raise Problem("PRODUCT_NOT_FROM_AFAS", f"product {', '.join(nameless)} has no AFAS item code", "Product2")
        if codes:
            known = {
                str(r["ItemCode"]): r
                for r in self.afas.iter_rows(
                    "AfasSf_Items", key=("ItemCode",), where=Where.any_of("ItemCode", sorted(set(codes)))
                )
            }
            unknown = sorted(set(codes) - set(known))
            if unknown:
                raise Problem("PRODUCT_NOT_IN_AFAS", f"product {', '.join(unknown)} does not exist in AFAS", "ItCd")
        config = self.config
        if config.connector == "FiEntries":
            return self._financial_mutation(order, debtor, lines)
        _, lines_object = CONNECTOR_TYPES[config.connector]
        fields = {
            "DbId": debtor,
            "OrDa": order.get("EffectiveDate"),
            "RfCs": order["Id"],
            "Unit": config.administration,
            "CuId": order.get("CurrencyIsoCode") or config.currency,
            "PaCd": config.mapped(
                "payment_terms", order.get("AFAS_Payment_Condition__c"), config.debtor.payment_condition
            ),
            "PaTp": config.mapped("payment_methods", order.get("AFAS_Payment_Method__c")),
            "War": config.warehouse,
            "Re": f"Salesforce order {order.get('OrderNumber')}",
            # DlAd wants an address id of the debtor; the delivery address travels as its description.
            "ExAd": delivery_text(order),
        }
        body_lines = [
            element(
                {"VaIt": "2", "ItCd": code, "BiUn": config.unit, "QuUn": line["Quantity"], "Upri": line["UnitPrice"]}
            )
            for line, code in zip(lines, codes, strict=True)
        ]
        return element(
            {k: v for k, v in fields.items() if v is not None},
            objects={lines_object: body_lines} if body_lines else None,
        )

    def _financial_mutation(self, order: dict[str, Any], debtor: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        settings = self.config.financial_mutation
        if settings is None:
            raise Problem("CONFIG", "connector FiEntries needs the financial_mutation settings")
        total = round(sum(float(line["Quantity"]) * float(line["UnitPrice"]) for line in lines), 2)
        date = str(order.get("EffectiveDate"))
        entry = {"EnDa": date, "BpDa": date, "Ds": order["Id"], "InId": order.get("OrderNumber")}
        return element(
            {
                "Year": int(date[:4]),
                "Peri": int(date[5:7]),
                "UnId": self.config.administration,
                "JoCo": settings.journal,
            },
            objects={
                "FiEntries": [
                    element({"VaAs": "2", "AcNr": debtor, "AmDe": total, **entry}),
                    element({"VaAs": "1", "AcNr": settings.revenue_account, "AmCr": total, **entry}),
                ]
            },
        )
