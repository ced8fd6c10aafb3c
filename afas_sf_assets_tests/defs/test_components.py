"""Every flow is a component (afas_sf_assets/flow_defs/<flow>/defs.yaml), and `dg` works with them as a user
does: `dg scaffold defs` makes a new flow with a commented mapping, `dg check` names what is wrong, where."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from afas_sf_assets.definitions import defs
from afas_sf_assets.defs.components import SyncFlow, mapping_template
from afas_sf_assets.defs.declared import DECLARED, TREE
from afas_sf_assets.flows.registry import BUILT_IN, ORDERS_TO_AFAS_FILE, declare
from afas_sf_assets.mapping.model import (
    DEFAULT_MAPPINGS,
    MappingFileError,
    load_mapping,
    load_to_afas_mapping,
)

REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")


def test_each_built_in_flow_is_a_component_and_its_asset_and_checks_come_from_it() -> None:
    components = {component.mapping for component in TREE.get_all_components(SyncFlow)}
    assert components == {flow.mapping for flow in BUILT_IN} | {ORDERS_TO_AFAS_FILE}
    built = TREE.build_defs()
    keys = {key.to_user_string() for asset in built.assets or [] for key in asset.keys}  # type: ignore[union-attr]
    assert keys == {f"salesforce/{flow.name}" for flow in BUILT_IN} | {"afas_targets/afas_orders"}
    checks = {key.name for check in built.asset_checks or [] for key in check.check_keys}  # type: ignore[union-attr]
    assert checks == {"failed_records", "reconciliation"}
    assert [sensor.name for sensor in built.sensors or []] == ["salesforce_orders"]
    assert DECLARED.names == [*(flow.name for flow in BUILT_IN), "afas_orders"]
    assert {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()} >= keys


def test_a_flow_without_its_component_is_gone_and_one_needed_by_another_is_named() -> None:
    without_stock = declare([f.mapping for f in BUILT_IN if f.name != "stock"] + [ORDERS_TO_AFAS_FILE])
    assert "stock" not in without_stock.names and "prices" in without_stock.names
    with pytest.raises(MappingFileError, match="the product_relations flow comes after products, which no compo"):
        declare([f.mapping for f in BUILT_IN if f.name != "products"])
    with pytest.raises(MappingFileError, match=r"names the mapping file nope\.yaml, which is not in"):
        declare(["nope.yaml"])


@pytest.mark.parametrize("direction", ["from_afas", "to_afas"])
def test_a_scaffolded_mapping_loads_as_it_stands(direction: str, tmp_path: Path) -> None:
    path = tmp_path / "project_tasks.yaml"
    path.write_text(mapping_template("project_tasks", direction))
    if direction == "from_afas":
        mapping = load_mapping(path)
        assert (mapping.flow, mapping.source.connector, mapping.target.object) == (
            "project_tasks",
            "AfasSf_Project_Tasks",
            "AFAS_Project_Tasks__c",
        )
    else:
        assert load_to_afas_mapping(path).target.connector == "KnSalesRelationOrg"


def _dg(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DG), *args], cwd=project, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300
    )


@pytest.mark.timeout(600)
def test_dg_scaffolds_a_flow_that_loads_and_checks_name_the_file_the_line_and_the_key(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project)
    shutil.copytree(REPO / "afas_sf_assets", project / "afas_sf_assets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(DEFAULT_MAPPINGS, project / "mappings", ignore=shutil.ignore_patterns("examples"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "SF_"))}
    # This copy, not the installed checkout, is the package dg and the code location load.
    env.update(PYTHONPATH=str(project), AFAS_SF_MAPPINGS=str(project / "mappings"), DAGSTER_HOME=str(tmp_path))

    made = _dg(project, env, "scaffold", "defs", "afas_sf_assets.defs.components.SyncFlow", "project_tasks")
    assert made.returncode == 0, made.stderr
    defs_yaml = project / "afas_sf_assets" / "flow_defs" / "project_tasks" / "defs.yaml"
    assert "mapping: project_tasks.yaml" in defs_yaml.read_text()
    mapping = project / "mappings" / "project_tasks.yaml"
    assert mapping.read_text().startswith("# The flow project_tasks")
    back = _dg(
        project, env, "scaffold", "defs", "afas_sf_assets.defs.components.SyncFlow", "cases", "--direction", "to_afas"
    )
    assert back.returncode == 0, back.stderr
    assert "direction: to_afas" in (project / "mappings" / "cases.yaml").read_text()

    probe = (
        "import afas_sf_assets.definitions as d; print([k.to_user_string() for k in d.defs.resolve_all_asset_keys()])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=project, env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "salesforce/project_tasks" in loaded.stdout and "afas_targets/cases" in loaded.stdout
    assert _dg(project, env, "check", "yaml").returncode == 0

    defs_yaml.write_text(defs_yaml.read_text().replace("mapping:", "mappin:"))
    # dg 1.13 checks one defs.yaml per component type unless given the folder; `dg check defs` loads them all.
    typo = _dg(project, env, "check", "yaml", str(defs_yaml.parent))
    assert typo.returncode != 0
    assert "flow_defs/project_tasks/defs.yaml:5" in typo.stdout + typo.stderr and "mappin" in typo.stdout + typo.stderr
    unloadable = _dg(project, env, "check", "defs")
    assert unloadable.returncode != 0 and "Error while loading component project_tasks" in unloadable.stdout

    defs_yaml.write_text(defs_yaml.read_text().replace("mappin:", "mapping:"))
    mapping.write_text(mapping.read_text().replace("{truncate: 80}", "{truncat: 80}"))
    wrong = _dg(project, env, "check", "defs")
    assert wrong.returncode != 0
    line = next(n for n, text in enumerate(mapping.read_text().splitlines(), 1) if "truncat:" in text)
    assert f"project_tasks.yaml:{line}: fields.Name.transform" in wrong.stdout + wrong.stderr


def test_the_component_types_are_listed_by_dg() -> None:
    listed = _dg(REPO, dict(os.environ), "list", "components")
    assert listed.returncode == 0, listed.stderr
    assert "afas_sf_assets.defs.components.SyncFlow" in listed.stdout
    assert "afas_sf_assets.defs.components.MappingFolderFlows" in listed.stdout
