"""`afas-sf demo`: start the sandboxes, run what the project can do, and print what happened."""

from __future__ import annotations

import time
from pathlib import Path

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.connector_set import CONNECTOR_SET
from afas_sf_assets.afas.settings import AfasSettings
from afas_sf_assets.sandbox.runner import SandboxOptions, run_sandboxes


def run_demo(directory: Path, *, seed: int) -> int:
    with run_sandboxes(SandboxOptions(directory, seed=seed)) as env:
        settings = AfasSettings(
            base_url=env["AFAS_BASE_URL"], token=env["AFAS_TOKEN"], ca_bundle=Path(env["AFAS_CA_BUNDLE"]), page_size=100
        )
        print(f"AFAS sandbox at {env['AFAS_BASE_URL']} (settings in {directory / 'sandbox.env'})")
        with AfasClient(settings) as afas:
            print(
                f"Profit version {afas.profit_version()}; "
                f"{len(afas.metainfo().get_connectors)} GetConnectors on the App Connector\n"
            )
            print(f"{'connector':<28}{'rows':>8}{'calls':>7}{'seconds':>9}")
            for spec in CONNECTOR_SET.values():
                calls, started = afas.calls, time.perf_counter()
                count = sum(1 for _ in afas.iter_rows(spec.id, key=spec.key))
                print(f"{spec.id:<28}{count:>8}{afas.calls - calls:>7}{time.perf_counter() - started:>9.2f}")
    return 0
