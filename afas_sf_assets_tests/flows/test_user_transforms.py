"""A user's own transform function in a mapping (`{call: package.module.function}`), through a real flow:
its values reach Salesforce, and what it raises fails that row only (retried every run), with its name and
message."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from afas_sf_assets.flows.catalog import PRODUCTS
from afas_sf_assets.sync.engine import DEFAULT_MAPPINGS
from afas_sf_assets.sync.state import RecordStatus
from afas_sf_assets_tests.conftest import Org

USER = "afas_sf_assets_tests.mapping.user_transforms"


def test_a_users_function_shapes_values_and_what_it_raises_fails_that_row_only(
    fresh_org: Callable[..., Org], tmp_path: Path
) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS, mappings)
    products = mappings / "products.yaml"
    text = products.read_text()
    for original, mine in (
        (
            "  AFAS_Short_Description__c: {from: ExtraDescription, transform: [trim]}",
            f"  AFAS_Short_Description__c: {{from: ItemCode, transform: [{{call: {{function: {USER}.shelf_code, "
            "args: {prefix: R}}}]}",
        ),
        (
            "  AFAS_Brand__c: {from: Brand}",
            f"  AFAS_Brand__c: {{from: Brand, transform: [{{call: {USER}.refuses_x}}]}}",
        ),
    ):
        assert original in text
        text = text.replace(original, mine)
    products.write_text(text)
    org = fresh_org()
    item, bad = [i for i in org.sandbox.rows("AfasSf_Items") if i["ItemKind"] == "simple"][:2]
    org.sandbox.upsert("AfasSf_Items", [{**bad, "Brand": "Xantippe"}])

    report = org.engine(mappings_dir=mappings).run(PRODUCTS, run_id="run-1")

    records = org.records()
    assert records[item["ItemCode"]]["AFAS_Short_Description__c"] == f"R-{item['ItemGroup']}-{item['ItemCode']}"
    assert bad["ItemCode"] not in records
    assert report.failed == 1 and report.created == len(org.sandbox.rows("AfasSf_Items")) - 1
    (failure,) = report.failures
    assert (failure.key, failure.field) == (bad["ItemCode"], "AFAS_Brand__c")
    assert f"{USER}.refuses_x raised LookupError: no shelf for Xantippe" in failure.message
    entry = org.state.entry("products", bad["ItemCode"])
    assert entry is not None and entry.status is RecordStatus.FAILED  # retried every run, as every mapping failure
