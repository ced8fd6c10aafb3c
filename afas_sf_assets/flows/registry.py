"""Which flows run: those the project's components name by their mapping files (afas_sf_assets/flow_defs),
in dependency order. A built-in flow's file gives that flow with its Python rules; any other file declares a
flow of its own, either way (flows/generic.py, flows/generic_out.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from afas_sf_assets.afas.connector_set import CONNECTOR_SET, GetConnectorSpec
from afas_sf_assets.flows.catalog import CATALOG_FLOWS
from afas_sf_assets.flows.customers import CUSTOMERS
from afas_sf_assets.flows.generic import yaml_flows
from afas_sf_assets.flows.generic_out import to_afas_flows
from afas_sf_assets.flows.orders_in import ORDERS
from afas_sf_assets.flows.orders_out import AFTER as ORDERS_TO_AFAS_AFTER
from afas_sf_assets.flows.orders_out import FLOW as ORDERS_TO_AFAS
from afas_sf_assets.flows.prices import PRICES
from afas_sf_assets.flows.shipments import SHIPMENTS
from afas_sf_assets.flows.stock import STOCK_FLOW
from afas_sf_assets.mapping.model import (
    DEFAULT_MAPPINGS,
    SETTINGS_FILES,
    MappingFileError,
    ToAfasMapping,
    flow_mapping_files,
    load_mapping,
    to_afas_mapping_files,
)
from afas_sf_assets.sync.flow import Flow

BUILT_IN: tuple[Flow, ...] = (*CATALOG_FLOWS, CUSTOMERS, PRICES, STOCK_FLOW, ORDERS, SHIPMENTS)
# The settings file of the built-in Salesforce → AFAS orders flow (flows/orders_out.py).
ORDERS_TO_AFAS_FILE = SETTINGS_FILES[0]


@dataclass(frozen=True)
class Declared:
    """The flows a project runs."""

    flows: tuple[Flow, ...]  # AFAS → Salesforce, in dependency order
    to_afas: tuple[ToAfasMapping, ...]  # Salesforce → AFAS, declared by mapping files
    orders_to_afas: bool  # the built-in orders flow into AFAS
    from_folder: tuple[str, ...] = ()  # the files found in the mapping folder, not named by a component
    by_name: dict[str, Flow] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {flow.name: flow for flow in self.flows})

    @property
    def names(self) -> list[str]:
        return [
            *self.by_name,
            *([ORDERS_TO_AFAS] if self.orders_to_afas else []),
            *(mapping.flow for mapping in self.to_afas),
        ]

    @property
    def sources(self) -> dict[str, GetConnectorSpec]:
        """Every GetConnector the flows read: the project's set, and those of the user's own that flows
        declared in their mapping files (observed as source assets, probed by the change sensor)."""
        own = (flow for flow in self.flows if flow not in BUILT_IN)
        return {**CONNECTOR_SET, **{spec.id: spec for spec in map(_source_of, own) if spec.id not in CONNECTOR_SET}}


def _source_of(flow: Flow) -> GetConnectorSpec:
    source = load_mapping(DEFAULT_MAPPINGS / flow.mapping).source
    return GetConnectorSpec(source.connector, f"read by the {flow.name} flow", source.key, (), source.modified)


def declare(files: Sequence[str], *, folder: bool = False, directory: Path = DEFAULT_MAPPINGS) -> Declared:
    """The flows of these mapping files (in `directory`) and, with `folder`, of every other file there that
    declares a flow of its own."""
    named = set(files)
    built_in = tuple(flow for flow in BUILT_IN if flow.mapping in named)
    claimed = {flow.mapping for flow in BUILT_IN} | {ORDERS_TO_AFAS_FILE}
    own = [directory / name for name in files if name not in claimed]
    missing = [path for path in own if not path.is_file()]
    if missing:
        raise MappingFileError(
            f"a component names the mapping file {missing[0].name}, which is not in {directory}; "
            "add it there (or set AFAS_SF_MAPPINGS to the folder holding it)"
        )
    to_afas_files = set(to_afas_mapping_files(directory))
    found: list[Path] = []
    if folder:
        own_names = {path.name for path in own}
        found = [
            path
            for path in (*flow_mapping_files(directory), *sorted(to_afas_files))
            if path.name not in claimed | own_names
        ]
        own += found
    flows = (*built_in, *yaml_flows(directory, built_in, [p for p in own if p not in to_afas_files]))
    names = [flow.name for flow in flows]
    orders_to_afas = ORDERS_TO_AFAS_FILE in named
    after = [(flow.name, flow.depends_on) for flow in built_in]
    after += [(ORDERS_TO_AFAS, ORDERS_TO_AFAS_AFTER)] if orders_to_afas else []
    for flow_name, needs in after:
        for needed in needs:
            if needed not in names:
                raise MappingFileError(
                    f"the {flow_name} flow comes after {needed}, which no component declares: "
                    f"keep afas_sf_assets/flow_defs/{needed}/defs.yaml"
                )
    to_afas = to_afas_flows(
        sorted(p for p in own if p in to_afas_files), [*names, *([ORDERS_TO_AFAS] if orders_to_afas else [])]
    )
    return Declared(flows, to_afas, orders_to_afas, tuple(sorted(path.name for path in found)))
