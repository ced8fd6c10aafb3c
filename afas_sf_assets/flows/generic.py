"""Flows declared by a mapping file alone: any GetConnector (the user's own included) into any Salesforce
object, standard or custom, with no Python written for it.

The file gives what a built-in flow's Python gives: `after:` (flows that come first, as asset lineage),
`lookups:` (relationships to records of other flows, by their external id, waiting while those are not
in Salesforce), and `declare:` (the custom objects and fields it needs). A row is validated against the
GetConnector's own metainfo (types, lengths; the key must be there) instead of a hand-written model.
Everything else is the engine's: incremental reads, diffing, the ledger, nothing lost, dry runs, the
API budget, the activity log, checks and sensors.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, create_model

from afas_sf_assets.afas.models import GetConnectorInfo
from afas_sf_assets.flows.common import synced
from afas_sf_assets.flows.rows import AfasRow, afas_date
from afas_sf_assets.mapping.model import Lookup, Mapping, MappingFileError, flow_mapping_files, load_mapping
from afas_sf_assets.sync.engine import record_key
from afas_sf_assets.sync.flow import Flow, FlowContext, Rule, Work

# AFAS metainfo data types as Python types; a type AFAS adds later is taken as it comes.
_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "int": int,
    "decimal": float,
    "boolean": bool,
    "date": Annotated[str, AfterValidator(afas_date)],
}


def row_model(info: GetConnectorInfo, mapping: Mapping) -> type[BaseModel]:
    """What a valid row of the GetConnector is, from its metainfo, for the fields the mapping reads: each of
    its type and no longer than AFAS's length; the key's fields present and not empty."""
    wanted = set(mapping.source_fields)
    definitions: dict[str, Any] = {}
    for field in info.fields:
        if field.id not in wanted:
            continue
        python = _PYTHON_TYPES.get(field.data_type.lower(), Any)
        constraints: dict[str, Any] = {"alias": field.id}
        if python is str and field.length:
            constraints["max_length"] = field.length
        if field.id in mapping.source.key:
            if python is str:
                constraints["min_length"] = 1
            definitions[f"f_{len(definitions)}"] = (Annotated[python, Field(**constraints)], ...)
        else:
            definitions[f"f_{len(definitions)}"] = (Annotated[python | None, Field(**constraints)], None)
    model: type[BaseModel] = create_model(f"{mapping.source.connector}Row", __base__=AfasRow, **definitions)
    return model


def _lookup_rule(lookups: MappingType[str, Lookup], external_ids: MappingType[str, str]) -> Rule:
    """Each relationship set to the other flow's record by its external id; a row whose record is not in
    Salesforce yet waits for it (unless the lookup says `wait: false`)."""

    def link(ctx: FlowContext, works: list[Work]) -> None:
        for name, lookup in lookups.items():
            keys = {w.key: record_key(w.row, tuple(lookup.source_fields)) for w in works}
            present = synced(ctx, lookup.flow, [k for k in keys.values() if k])
            for work in works:
                assert work.record is not None
                key = keys[work.key]
                if key is None:
                    continue
                if key not in present and lookup.wait:
                    work.waiting_for = f"{lookup.flow} record {key} is not in Salesforce yet"
                    continue
                work.record.always[name] = {external_ids[name]: key}

    return link


def relationship_field(name: str) -> str:
    """`Account__r` → `Account__c`, `Account` → `AccountId`: the field a relationship writes."""
    return name[:-3] + "__c" if name.endswith("__r") else f"{name}Id"


def yaml_flow(mapping: Mapping, targets: MappingType[str, Mapping]) -> Flow:
    """The flow a mapping file declares; `targets` holds every other flow's mapping, for its lookups."""
    where = mapping.path.name if mapping.path else mapping.flow
    for flow in (*mapping.after, *(lookup.flow for lookup in mapping.lookups.values())):
        if flow not in targets:
            raise MappingFileError(f"{where}: there is no flow {flow!r}; the flows are: {', '.join(targets)}")
    external_ids = {
        name: lookup.external_id or targets[lookup.flow].target.external_id for name, lookup in mapping.lookups.items()
    }
    relationships = [relationship_field(name) for name in mapping.lookups]
    return Flow(
        name=mapping.flow,
        mapping=where,
        row_model=None,
        derive_row_model=row_model,
        depends_on=tuple(dict.fromkeys([*mapping.after, *(lookup.flow for lookup in mapping.lookups.values())])),
        rules=(_lookup_rule(mapping.lookups, external_ids),) if mapping.lookups else (),
        extra_requirements=(lambda ctx: {mapping.target.object: relationships}) if relationships else None,
        deactivate=mapping.deactivate,
        description=mapping.description
        or f"AFAS {mapping.source.connector} → {mapping.target.object}, declared in mappings/{where}.",
    )


def yaml_flows(directory: Path, built_in: tuple[Flow, ...], files: Sequence[Path] | None = None) -> tuple[Flow, ...]:
    """The flows mapping files declare beyond the built-in ones, in dependency order: `files`, or every flow
    file in `directory` no built-in flow claims."""
    claimed = {flow.mapping for flow in built_in}
    targets = {flow.name: load_mapping(directory / flow.mapping) for flow in built_in if flow.mapping}
    paths = files if files is not None else [p for p in flow_mapping_files(directory) if p.name not in claimed]
    declared = [load_mapping(path) for path in paths]
    for mapping in declared:
        if mapping.flow in targets:
            raise MappingFileError(f"{mapping.path}: flow {mapping.flow!r} is already defined; give it another name")
        targets[mapping.flow] = mapping
    flows = {mapping.flow: yaml_flow(mapping, targets) for mapping in declared}
    ordered: list[Flow] = []
    placed = {flow.name for flow in built_in}
    while len(ordered) < len(flows):
        ready = [f for f in flows.values() if f not in ordered and set(f.depends_on) <= placed]
        if not ready:
            stuck = sorted(f.name for f in flows.values() if f not in ordered)
            raise MappingFileError(f"the flows {', '.join(stuck)} come after one another in a circle (after:)")
        for flow in ready:
            ordered.append(flow)
            placed.add(flow.name)
    return tuple(ordered)
