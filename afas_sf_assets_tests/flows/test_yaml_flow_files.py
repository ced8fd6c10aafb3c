"""What a flow's mapping file can get wrong, named before anything runs: the file, and the line where the
file itself says it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from afas_sf_assets.flows.generic import yaml_flows
from afas_sf_assets.flows.registry import BUILT_IN
from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS, MappingFileError

EXAMPLE = (DEFAULT_MAPPINGS / "examples" / "projects.yaml").read_text()


def folder(tmp_path: Path, **files: str) -> Path:
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, mappings, ignore=shutil.ignore_patterns("examples"))
    for name, text in files.items():
        (mappings / f"{name}.yaml").write_text(text)
    return mappings


def test_the_example_becomes_a_flow_after_customers(tmp_path: Path) -> None:
    (flow,) = yaml_flows(folder(tmp_path, projects=EXAMPLE), BUILT_IN)
    assert (flow.name, flow.depends_on, flow.mapping) == ("projects", ("customers",), "projects.yaml")
    assert flow.row_model is None and flow.derive_row_model is not None


def test_flows_of_ones_own_come_in_dependency_order(tmp_path: Path) -> None:
    tasks = EXAMPLE.replace("flow: projects", "flow: project_tasks").replace("after: [customers]", "after: [projects]")
    flows = yaml_flows(folder(tmp_path, a_tasks=tasks, projects=EXAMPLE), BUILT_IN)
    assert [f.name for f in flows] == ["projects", "project_tasks"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"projects": EXAMPLE.replace("after: [customers]", "after: [klanten]")},
            "projects.yaml: there is no flow 'klanten'",
        ),
        (
            {"projects": EXAMPLE.replace("{flow: customers, from: DebtorId}", "{flow: debiteuren, from: DebtorId}")},
            "there is no flow 'debiteuren'",
        ),
        ({"projects": EXAMPLE.replace("flow: projects", "flow: products")}, "flow 'products' is already defined"),
        (
            {
                "a": EXAMPLE.replace("flow: projects", "flow: a").replace("after: [customers]", "after: [b]"),
                "b": EXAMPLE.replace("flow: projects", "flow: b").replace("after: [customers]", "after: [a]"),
            },
            "the flows a, b come after one another in a circle",
        ),
    ],
)
def test_a_flow_file_that_does_not_fit_is_named(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(MappingFileError, match=message):
        yaml_flows(folder(tmp_path, **files), BUILT_IN)


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (("    label: Project (AFAS)\n", ""), "declare", "AFAS_Project__c: a new custom object needs a `label`"),
        (
            ("      Budget__c: {type: currency}", "      Budget: {type: currency}"),
            "declare.AFAS_Project__c.fields",
            "Budget: a custom field's name ends in __c",
        ),
        (
            ("      Status__c: {type: picklist, values: [active, closed]}", "      Status__c: {type: picklist}"),
            "declare.AFAS_Project__c.fields.Status__c",
            "lists its `values`",
        ),
        (
            ("  Account__r: {flow: customers, from: DebtorId}", "  Account__r: {flow: customers}"),
            "lookups.Account__r.from",
            "Field required",
        ),
    ],
)
def test_a_key_the_file_gets_wrong_is_named_with_its_line(
    tmp_path: Path, change: tuple[str, str], key: str, message: str
) -> None:
    text = EXAMPLE.replace(*change)
    assert text != EXAMPLE
    with pytest.raises(MappingFileError, match=rf"projects.yaml:\d+: {key}.*{message}"):
        yaml_flows(folder(tmp_path, projects=text), BUILT_IN)
