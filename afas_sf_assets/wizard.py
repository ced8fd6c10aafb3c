"""The setup wizard: `afas-sf init` asks for the settings, `afas-sf check` proves every connection.

Each check says what it looked at and, when it fails, exactly what is missing — an unknown connector
on the App Connector, a field the mapping reads that the GetConnector lacks, a Salesforce field the
org does not have — so a first set-up is a list of things to fix, not a stack trace.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.alerts import channels_from_env
from afas_sf_assets.defs.declared import FLOWS, SOURCES, TO_AFAS
from afas_sf_assets.errors import AfasSfError, settings_problem
from afas_sf_assets.mapping.model import ToAfasMapping
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.salesforce.settings import SalesforceSettings
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State

UPDATE_CONNECTORS = ("KnSalesRelationOrg", "KnSalesRelationPer", "FbSales")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def run_checks(mappings_dir: Path | None = None, to_afas: Sequence[ToAfasMapping] = TO_AFAS) -> Iterator[Check]:
    try:
        afas_settings = AfasSettings()
    except ValidationError as exc:
        yield Check("AFAS settings", False, settings_problem(exc))
        return
    try:
        sf_settings = SalesforceSettings()
    except ValidationError as exc:
        yield Check("Salesforce settings", False, settings_problem(exc))
        return
    with AfasClient(afas_settings) as afas, SalesforceClient(sf_settings) as salesforce:
        try:
            version = afas.profit_version()
            meta = afas.metainfo()
        except AfasSfError as exc:
            yield Check("AFAS connection", False, f"{afas_settings.resolved_base_url}: {exc}")
            return
        yield Check("AFAS connection", True, f"Profit {version} at {afas_settings.resolved_base_url}")
        present = {c.id for c in meta.get_connectors}
        missing = sorted(set(SOURCES) - present)
        yield Check(
            "AFAS GetConnectors",
            not missing,
            f"all {len(SOURCES)} on the App Connector"
            if not missing
            else f"not on the App Connector: {', '.join(missing)} (import them: docs/afas-connectors.md)",
        )
        updates = sorted(set(UPDATE_CONNECTORS) - {c.id for c in meta.update_connectors})
        yield Check(
            "AFAS UpdateConnectors",
            not updates,
            "the order flow can write debtors and sales orders"
            if not updates
            else f"not on the App Connector: {', '.join(updates)}",
        )
        try:
            count = salesforce.count("SELECT COUNT() FROM Pricebook2 WHERE IsStandard = true")
        except AfasSfError as exc:
            yield Check("Salesforce connection", False, f"{sf_settings.login_url} ({sf_settings.auth.value}): {exc}")
            return
        usage = salesforce.api_usage
        yield Check(
            "Salesforce connection",
            count == 1,
            f"logged in with {sf_settings.auth.value}; API usage {usage.used}/{usage.limit}"
            if usage
            else f"logged in with {sf_settings.auth.value}",
        )
        try:
            state = State()
            state.counts("products")
            yield Check("State database", True, state.url.split("@")[-1])
        except Exception as exc:
            yield Check("State database", False, f"{type(exc).__name__}: {exc}")
            return
        engine = SyncEngine(afas, salesforce, state, mappings_dir=mappings_dir)
        for flow in FLOWS:
            try:
                ctx = engine.context(flow, run_id="check", dry_run=True)
                reason = flow.skip_when(ctx) if flow.skip_when else None
                if reason:
                    yield Check(f"flow {flow.name}", True, f"nothing to do in this org ({reason})")
                    continue
                engine.preflight(ctx, flow)
                yield Check(f"flow {flow.name}", True, "mapping fits AFAS and Salesforce")
            except AfasSfError as exc:
                yield Check(f"flow {flow.name}", False, str(exc))
        updates_present = {c.id for c in meta.update_connectors}
        for mapping in to_afas:
            yield _to_afas_check(mapping, present, updates_present, salesforce)
    channels = [c.name for c in channels_from_env()]
    yield Check("Alerts", True, ", ".join(channels) if channels else "no channel configured (AFAS_SF_ALERT_…)")


def _to_afas_check(
    mapping: ToAfasMapping, get_connectors: set[str], update_connectors: set[str], salesforce: SalesforceClient
) -> Check:
    """A flow into AFAS declared in YAML: its connectors on the App Connector, its fields in the org."""
    name = f"flow {mapping.flow}"
    missing = [c for c in (mapping.target.find.connector,) if c not in get_connectors]
    missing += [c for c in (mapping.target.connector,) if c not in update_connectors]
    if missing:
        return Check(name, False, f"not on the App Connector: {', '.join(missing)}")
    fields = salesforce.org_fields(mapping.source.object)
    if fields is None:
        return Check(name, False, f"the org has no {mapping.source.object} (or the integration user cannot see it)")
    absent = [f for f in mapping.source_fields if "." not in f and f.lower() not in fields]
    if absent:
        return Check(
            name,
            False,
            f"{mapping.source.object} has no field(s) {', '.join(absent)}: deploy them (`afas-sf metadata` writes "
            "what the mapping declares) or correct the mapping",
        )
    return Check(name, True, f"{mapping.source.object} → {mapping.target.connector}: connectors and fields in place")


PROMPTS: tuple[tuple[str, str, bool], ...] = (
    ("AFAS_ENVIRONMENT", "AFAS environment number (e.g. 12345)", False),
    ("AFAS_ENVIRONMENT_TYPE", "AFAS environment type: production, test or accept", False),
    ("AFAS_TOKEN", "AFAS App Connector token (empty when using OAuth)", True),
    ("SF_LOGIN_URL", "Salesforce login URL (My Domain, or https://login.salesforce.com)", False),
    ("SF_AUTH", "Salesforce OAuth flow: client_credentials, jwt or password", False),
    ("SF_CONSUMER_KEY", "Salesforce connected app consumer key", False),
    ("SF_CONSUMER_SECRET", "Salesforce connected app consumer secret (empty for jwt)", True),
    ("SF_USERNAME", "Salesforce integration user (jwt and password flows)", False),
    ("SF_PRIVATE_KEY_FILE", "Private key file for the JWT flow (empty otherwise)", False),
)


def init(path: Path, ask: Callable[[str, bool], str] | None = None) -> Path:
    """Ask for each setting (secrets without echo) and write them to a private env file."""

    def default_ask(question: str, secret: bool) -> str:
        return getpass.getpass(f"{question}: ") if secret else input(f"{question}: ")

    ask = ask or default_ask
    lines = ["# afas-sf settings, written by `afas-sf init`. Keep this file private.\n"]
    for name, question, secret in PROMPTS:
        current = os.environ.get(name, "")
        answer = ask(question + (" [keep current]" if current else ""), secret).strip() or current
        if answer:
            lines.append(f"{name}={answer}\n")
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path
