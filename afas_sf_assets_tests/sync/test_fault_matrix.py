"""The fault matrix at small size: every flow run under one kind of fault (or all at once), then one normal
run, ends with Salesforce holding exactly what a fault-free run holds: 0 lost, 0 duplicated, 0 differing.
`benchmarks/fault_suite.py` runs the same at medium size, with kills."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.salesforce.client import SalesforceClient
from afas_sf_assets.sync.engine import SyncEngine
from afas_sf_assets.sync.state import State
from afas_sf_assets_tests.conftest import FAST_RETRY, Org
from afas_sf_assets_tests.sandbox_process import running_sandbox
from afas_sf_assets_tests.world import MATRIX, Snapshot, compare, run_round, snapshot


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    """What Salesforce holds after the flows ran twice without a fault (seed 3, small)."""
    directory = tmp_path_factory.mktemp("fault-free")
    with running_sandbox(directory / "org", "--seed", "3") as box:
        afas = AfasClient(box.afas_settings(page_size=100), retry=FAST_RETRY)
        salesforce = SalesforceClient(box.sf_settings(), retry=FAST_RETRY)
        engine = SyncEngine(afas, salesforce, State(f"sqlite:///{directory / 'state.sqlite'}"))
        for number in range(2):
            run_round(engine, f"clean-{number}")
        yield snapshot(box)
        afas.close()
        salesforce.close()


@pytest.mark.parametrize("fault", list(MATRIX))
def test_under_each_fault_nothing_is_lost_duplicated_or_different(
    fault: str, fault_free: Snapshot, fresh_org: Callable[..., Org], tmp_path: Path
) -> None:
    afas_faults, sf_faults, session_seconds = MATRIX[fault]
    org = fresh_org()
    engine = org.engine()
    org.sandbox.set_faults(**afas_faults)
    org.sandbox.sf_put("faults", sf_faults)
    org.sandbox.sf_put("sessions", {"seconds": session_seconds})
    errors: list[str] = []
    for number in range(2):
        run_round(engine, f"faulty-{number}", lambda flow, exc: errors.append(f"{flow}: {exc}"))
    org.sandbox.set_faults()
    org.sandbox.sf_put("faults", {})
    org.sandbox.sf_put("sessions", {"seconds": 7200})
    run_round(engine, "normal")
    result = compare(fault_free, snapshot(org.sandbox))
    assert result.clean, f"{fault}: {result.line()}; e.g. {(result.lost + result.duplicated + result.differing)[:5]}"


def test_the_comparison_finds_what_is_lost_duplicated_differing_or_extra() -> None:
    expected: Snapshot = {"Product2": {"a": [{"Name": "A"}], "b": [{"Name": "B"}], "c": [{"Name": "C"}]}}
    actual: Snapshot = {"Product2": {"a": [{"Name": "A"}, {"Name": "A"}], "c": [{"Name": "C2"}], "d": [{"Name": "D"}]}}
    result = compare(expected, actual)
    assert (result.lost, result.duplicated, result.extra) == (["Product2:b"], ["Product2:a"], ["Product2:d"])
    assert result.differing == ["Product2:c (Name)"] and not result.clean
    assert compare(expected, expected).clean
