"""Which flows this code location runs: those its components declare (afas_sf_assets/flow_defs)."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
from dagster._utils.warnings import BetaWarning, PreviewWarning

import afas_sf_assets.flow_defs as flow_defs
from afas_sf_assets.defs.components import MappingFolderFlows, SyncFlow
from afas_sf_assets.flows.registry import declare

# Components load through Dagster APIs still marked preview or beta, which warn on every load, a line per flow
# that would bury what a command has to say. Only those warnings are silenced.
for category, api in (
    (PreviewWarning, "Function `load_definitions_from_modules?`"),
    (BetaWarning, "Class `LocalFileCodeReference`"),
    (BetaWarning, "Class `CodeReferencesMetadataValue`"),
    (BetaWarning, "Parameter `execution_type` of function `AssetsDefinition.__init__`"),
    (BetaWarning, "Parameter `owners` of initializer `SensorDefinition.__init__`"),
):
    warnings.filterwarnings("ignore", message=api, category=category)

TREE = dg.ComponentTree.from_module(flow_defs, project_root=Path(flow_defs.__file__).resolve().parents[2])
DECLARED = declare(
    [component.mapping for component in TREE.get_all_components(SyncFlow)],
    folder=bool(TREE.get_all_components(MappingFolderFlows)),
)
FLOWS = DECLARED.flows
FLOWS_BY_NAME = DECLARED.by_name
TO_AFAS = DECLARED.to_afas
SOURCES = DECLARED.sources
