"""The component types every flow is declared with (afas_sf_assets/flow_defs/<flow>/defs.yaml):

    type: afas_sf_assets.defs.components.SyncFlow
    attributes:
      mapping: products.yaml

`dg list defs` shows what they build, `dg check yaml` checks their attributes, `dg check defs` loads them
(a mapping file's mistakes named by file, line and key), and `dg scaffold defs
afas_sf_assets.defs.components.SyncFlow <flow>` makes a new flow with a commented mapping file.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Literal

import dagster as dg
from pydantic import BaseModel, Field

from afas_sf_assets.mapping.model import DEFAULT_MAPPINGS

TEMPLATES = Path(__file__).resolve().parents[1] / "mapping" / "templates"


class ScaffoldFlow(BaseModel):
    direction: Literal["from_afas", "to_afas"] = Field(
        default="from_afas", description="from_afas: an AFAS GetConnector into Salesforce; to_afas: the other way"
    )


class SyncFlowScaffolder(dg.Scaffolder[ScaffoldFlow]):
    """Writes the flow's `defs.yaml` and, unless it is there, a commented mapping file in the mapping folder."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldFlow]:
        return ScaffoldFlow

    def scaffold(self, request: dg.ScaffoldRequest[ScaffoldFlow]) -> None:
        flow = request.target_path.name.replace("-", "_").lower()
        mapping = DEFAULT_MAPPINGS / f"{flow}.yaml"
        if not mapping.exists():
            mapping.write_text(mapping_template(flow, request.params.direction))
        request.target_path.mkdir(parents=True, exist_ok=True)
        (request.target_path / "defs.yaml").write_text(
            f"# The flow {flow}: what it reads, what it writes and how are in its mapping file, {mapping.name}, in\n"
            "# the mapping folder (mappings/, or the folder AFAS_SF_MAPPINGS names).\n"
            f"type: {request.type_name}\nattributes:\n  mapping: {mapping.name}\n"
        )


def mapping_template(flow: str, direction: str) -> str:
    """A commented mapping file for a new flow, loadable as it stands."""
    title = "_".join(part.capitalize() for part in flow.split("_") if part)
    values = (
        {"flow": flow, "connector": f"AfasSf_{title}", "object": f"AFAS_{title}__c", "label": f"{title} (AFAS)"}
        if direction == "from_afas"
        else {"flow": flow, "connector": "KnSalesRelationOrg", "object": "Account", "label": ""}
    )
    return Template((TEMPLATES / f"{direction}.yaml").read_text()).substitute(values)


@dg.scaffold_with(SyncFlowScaffolder)
class SyncFlow(dg.Component, dg.Model, dg.Resolvable):
    """A flow between AFAS and Salesforce, declared by its mapping file: a built-in flow's file gives that
    flow with its Python rules, any other file a flow of its own, either way."""

    mapping: str = Field(description="The flow's mapping file, in the mapping folder (mappings/ or AFAS_SF_MAPPINGS)")

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from afas_sf_assets.defs.flow_definitions import definitions_of

        return definitions_of([self.mapping])


class MappingFolderFlows(dg.Component, dg.Model, dg.Resolvable):
    """Every flow that a file in the mapping folder declares on its own and no SyncFlow names: a tenant's own
    flows, added to its mapping folder (AFAS_SF_MAPPINGS) without a new image."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        from afas_sf_assets.defs.flow_definitions import definitions_of, folder_files

        return definitions_of(folder_files())
