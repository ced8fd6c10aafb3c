"""Customers: AFAS debtors become business Accounts with a contact, Person Accounts, or Contacts."""

from __future__ import annotations

from typing import Any

from afas_sf_assets.afas.filters import Where
from afas_sf_assets.flows.rows import AfasDebtor
from afas_sf_assets.mapping.apply import FieldMappingError, apply_mapping
from afas_sf_assets.sync.flow import Flow, FlowContext, TargetRef, Work
from afas_sf_assets.sync.report import Failure

DEFAULT_ACCOUNT_KEY = "AFAS-PERSONS"
CONTACT = TargetRef("Contact", "AFAS_Contact_Key__c")


def _email(work: Work) -> str | None:
    value = (work.row.get("Email") or "").strip().lower()
    return value or None


def _is_person(work: Work) -> bool:
    return not (work.row.get("CompanyName") or "").strip()


def _person_record_type(ctx: FlowContext) -> str:
    if "person_record_type" not in ctx.cache:
        rows = list(
            ctx.salesforce.iter_query("SELECT Id FROM RecordType WHERE SobjectType = 'Account' AND IsPersonType = true")
        )
        if not rows:
            raise FieldMappingError("RecordTypeId", "org", "the org has Person Accounts but no person record type")
        ctx.cache["person_record_type"] = rows[0]["Id"]
    return str(ctx.cache["person_record_type"])


def _ensure_default_account(ctx: FlowContext) -> None:
    """The account persons hang under in an org without Person Accounts: written only when it is missing
    (never made, or deleted in Salesforce) or renamed in the mapping, so an unchanged run writes nothing."""
    if ctx.dry_run or "default_account" in ctx.cache:
        return
    name = ctx.mapping.options.get("default_person_account", "AFAS particulieren")
    existing = list(
        ctx.salesforce.iter_query(f"SELECT Id, Name FROM Account WHERE AFAS_Debtor_Id__c = '{DEFAULT_ACCOUNT_KEY}'")
    )
    if existing and existing[0]["Name"] == name:
        ctx.cache["default_account"] = existing[0]["Id"]
        return
    outcome = ctx.salesforce.upsert(
        "Account", "AFAS_Debtor_Id__c", [{"AFAS_Debtor_Id__c": DEFAULT_ACCOUNT_KEY, "Name": name}]
    )[0]
    if not outcome.success:
        raise FieldMappingError(
            "AccountId",
            "options.default_person_account",
            f"the default account could not be made: {outcome.error_code}",
        )
    ctx.cache["default_account"] = outcome.id


def shape_debtor(ctx: FlowContext, works: list[Work]) -> None:
    """Organisation → business Account; person → Person Account, or Contact under the default account."""
    person_accounts = ctx.salesforce.has_person_accounts()
    for work in works:
        if not _is_person(work):
            continue
        if person_accounts:
            work.record = apply_mapping(ctx.mapping, work.row, "person_account")
            work.record.create_only["RecordTypeId"] = _person_record_type(ctx)
        else:
            _ensure_default_account(ctx)
            work.record = apply_mapping(ctx.mapping, work.row, "person_contact")
            work.record.always["Account"] = {"AFAS_Debtor_Id__c": DEFAULT_ACCOUNT_KEY}
            work.target = CONTACT


def match_by_email(ctx: FlowContext, works: list[Work]) -> None:
    """New to Salesforce by debtor id? An existing record with the same e-mail and no AFAS id is adopted.

    Two AFAS debtors sharing an e-mail (in any case) are never merged: each keeps its own record by
    debtor id, nothing is adopted for them, and the report says so.
    """
    emails = sorted({e for w in works if (e := _email(w))})
    if not emails:
        return
    holders: dict[str, set[str]] = {}
    for row in ctx.afas.iter_rows("AfasSf_Debtors", key=("DebtorId",), where=Where.any_of("Email", emails)):
        email = (row.get("Email") or "").strip().lower()
        holders.setdefault(email, set()).add(str(row["DebtorId"]))
    report_shared = ctx.cache.setdefault("shared_reported", set())
    for work in works:
        email = _email(work)
        others = sorted(holders.get(email or "", set()) - {work.key})
        if email and others and work.key not in report_shared:
            report_shared.add(work.key)
            ctx.warn(
                Failure(
                    work.key,
                    "warning",
                    "SHARED_EMAIL",
                    "Email",
                    f"e-mail {email} is also on debtor {', '.join(others)}; matched by debtor id, not merged",
                )
            )
    candidates = [w for w in works if w.target_id is None and (e := _email(w)) and len(holders.get(e, ())) == 1]
    if not candidates:
        return
    wanted = sorted({_email(w) for w in candidates})  # type: ignore[type-var]
    contacts = list(
        ctx.salesforce.query_in(
            "SELECT Id, Email, AccountId, Account.AFAS_Debtor_Id__c FROM Contact WHERE Email IN {values} "
            "AND AFAS_Contact_Key__c = null",
            wanted,  # type: ignore[arg-type]
        )
    )
    person_accounts = []
    if ctx.salesforce.has_person_accounts():
        person_accounts = list(
            ctx.salesforce.query_in(
                "SELECT Id, PersonEmail FROM Account WHERE PersonEmail IN {values} AND AFAS_Debtor_Id__c = null",
                wanted,  # type: ignore[arg-type]
            )
        )
    account_links: list[dict[str, Any]] = []
    contact_links: list[dict[str, Any]] = []
    adopted = 0
    for work in candidates:
        email = _email(work)
        target = ctx.target_of(work)
        if target == CONTACT:
            found = next((c for c in contacts if (c.get("Email") or "").lower() == email), None)
            if found:
                work.target_id = found["Id"]
                contact_links.append({"Id": found["Id"], "AFAS_Contact_Key__c": work.key})
                adopted += 1
        elif _is_person(work):
            found = next((a for a in person_accounts if (a.get("PersonEmail") or "").lower() == email), None)
            if found:
                work.target_id = found["Id"]
                account_links.append({"Id": found["Id"], "AFAS_Debtor_Id__c": work.key})
                adopted += 1
        else:
            found = next(
                (
                    c
                    for c in contacts
                    if (c.get("Email") or "").lower() == email
                    and c.get("AccountId")
                    and not (c.get("Account") or {}).get("AFAS_Debtor_Id__c")
                ),
                None,
            )
            if found:
                work.target_id = found["AccountId"]
                account_links.append({"Id": found["AccountId"], "AFAS_Debtor_Id__c": work.key})
                contact_links.append({"Id": found["Id"], "AFAS_Contact_Key__c": work.key})
                adopted += 1
    ctx.count("matched_by_email", adopted)
    if ctx.dry_run:
        return
    # The AFAS id goes onto the adopted records first, so the upserts that follow update them.
    for sobject, links in (("Account", account_links), ("Contact", contact_links)):
        if links:
            for link, outcome in zip(links, ctx.salesforce.update_by_id(sobject, links), strict=True):
                if not outcome.success:
                    key = str(link.get("AFAS_Debtor_Id__c") or link.get("AFAS_Contact_Key__c"))
                    ctx.warn(
                        Failure(
                            key,
                            "warning",
                            outcome.error_code or "?",
                            sobject,
                            f"adopting {sobject} {link['Id']} by e-mail failed: {outcome.errors[0].message}",
                        )
                    )


def contact_person(ctx: FlowContext, written: list[Work]) -> None:
    """The contact person of each organisation debtor, as a Contact under its Account."""
    organisations = [w for w in written if not _is_person(w)]
    records = []
    for work in organisations:
        record = apply_mapping(ctx.mapping, work.row, "contact")
        records.append({**record.for_create(), "Account": {"AFAS_Debtor_Id__c": work.key}})
    if records:
        outcomes = ctx.salesforce.upsert("Contact", "AFAS_Contact_Key__c", records)
        ctx.children_written("contacts", "Contact", [w.key for w in organisations], records, outcomes)


def _requirements(ctx: FlowContext) -> dict[str, list[str]]:
    needs = {"Contact": ["AccountId", "AFAS_Contact_Key__c"]}
    if ctx.salesforce.has_person_accounts():
        needs["Account"] = ["RecordTypeId", "IsPersonAccount", "PersonEmail"]
    return needs


def _profiles_for_org(ctx: FlowContext) -> tuple[str, ...]:
    return ("contact", "person_account" if ctx.salesforce.has_person_accounts() else "person_contact")


CUSTOMERS = Flow(
    name="customers",
    mapping="customers.yaml",
    row_model=AfasDebtor,
    rules=(shape_debtor,),
    matching=(match_by_email,),
    after_write=(contact_person,),
    extra_requirements=_requirements,
    writes_also=("Account", "Contact"),
    profiles_for=_profiles_for_org,
    description="AFAS debtors → Account + Contact, Person Account, or Contact under a default account; "
    "matched by e-mail, then by debtor id.",
)
