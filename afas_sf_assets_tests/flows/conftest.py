"""The world the YAML-only flows are tested in: the shipped mappings plus the example flows
(mappings/examples/), sandboxes that learned the user's own GetConnector, and `afas-sf sync` run as a user runs
it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS
from afas_sf_assets.sandbox.afas.demo_data import DemoData, DemoSize
from afas_sf_assets.sandbox.afas.examples import PROJECTS_SPEC, example_projects, project
from afas_sf_assets_tests.sandbox_process import Sandbox, running_sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, dict[str, str], list[str]]]:
    """The shipped mappings plus the example flows; sandboxes serving the demo data and the projects."""
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, mappings, ignore=shutil.ignore_patterns("examples"))
    for example in ("projects.yaml", "shop_accounts.yaml"):
        shutil.copy(DEFAULT_MAPPINGS / "examples" / example, mappings / example)
    data: dict[str, Any] = dict(DemoData(3, DemoSize.SMALL).generate())
    companies = [d["DebtorId"] for d in data["AfasSf_Debtors"] if d["CompanyName"]][:4]
    rows = example_projects(data["AfasSf_Debtors"])
    rows.append(project(7, "99999"))  # a customer AFAS does not have: waits
    rows.append(project(8, companies[0], Description="x" * 81))  # longer than AFAS's metainfo allows
    data["AfasSf_Projects"] = {**PROJECTS_SPEC, "rows": rows}
    (tmp_path / "afas.json").write_text(json.dumps(data))
    monkeypatch.setenv("AFAS_SF_MAPPINGS", str(mappings))  # the Salesforce sandbox serves what they declare
    with running_sandbox(tmp_path / "world", "--afas-data", str(tmp_path / "afas.json")) as box:
        env = {
            **os.environ,
            **box.env,
            "DAGSTER_HOME": str(tmp_path / "dagster"),
            "AFAS_SF_STATE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}",
        }
        yield box, env, companies


def run_sync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "afas_sf_assets.cli", "sync", *args], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def sync(env: dict[str, str], *args: str) -> str:
    done = run_sync(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def line_of(output: str, flow: str) -> str:
    return next(line for line in output.splitlines() if line.strip().startswith(flow + " "))
