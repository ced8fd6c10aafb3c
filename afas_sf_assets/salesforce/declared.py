"""The project's Salesforce objects: the schema's, plus the custom objects and fields that flows declared in
their mapping files (`declare:`) need. `afas-sf metadata` deploys them; the sandbox serves them."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from afas_sf_assets.mapping.model import (
    DEFAULT_MAPPINGS,
    DeclaredField,
    Mapping,
    ToAfasMapping,
    flow_mapping_files,
    load_mapping,
    load_to_afas_mapping,
    to_afas_mapping_files,
)
from afas_sf_assets.salesforce.schema import OBJECTS, SfField, SfObject, SfType

_TYPES = {
    "text": SfType.STRING,
    "textarea": SfType.TEXTAREA,
    "email": SfType.EMAIL,
    "phone": SfType.PHONE,
    "url": SfType.URL,
    "number": SfType.DOUBLE,
    "currency": SfType.CURRENCY,
    "percent": SfType.PERCENT,
    "date": SfType.DATE,
    "datetime": SfType.DATETIME,
    "checkbox": SfType.BOOLEAN,
    "picklist": SfType.PICKLIST,
    "lookup": SfType.REFERENCE,
}
# Salesforce's lengths where a declaration gives none: text 255, long text 32,768, e-mail 80, phone 40.
_LENGTHS = {SfType.TEXTAREA: 32768, SfType.EMAIL: 80, SfType.PHONE: 40}


def declared_field(name: str, declared: DeclaredField) -> SfField:
    sf_type = _TYPES[declared.type]
    return SfField(
        name,
        sf_type,
        declared.length or _LENGTHS.get(sf_type, 255),
        required=declared.required,
        external_id=declared.external_id,
        # An upsert key, as the project's own: unique and case-insensitive.
        unique=declared.external_id,
        reference_to=(declared.to,) if declared.to else (),
        picklist=declared.values,
        label=declared.label or name.removesuffix("__c").replace("_", " "),
        scale=declared.decimals,
        default=False if sf_type is SfType.BOOLEAN else None,
    )


def merge_declared(objects: dict[str, SfObject], mappings: list[Mapping | ToAfasMapping]) -> dict[str, SfObject]:
    """`objects` with what the mappings declare: new custom objects (with their Name field), and custom
    fields added to objects already there."""
    merged = dict(objects)
    taken = {o.key_prefix for o in merged.values()}
    for mapping in mappings:
        for name, declared in mapping.declare.items():
            fields = tuple(declared_field(n, f) for n, f in declared.fields.items())
            if name in merged:
                present = {f.name for f in merged[name].fields}
                merged[name] = replace(
                    merged[name], fields=merged[name].fields + tuple(f for f in fields if f.name not in present)
                )
                continue
            prefix = next(f"a{n:02d}" for n in range(10, 100) if f"a{n:02d}" not in taken)
            taken.add(prefix)
            merged[name] = SfObject(
                name, declared.label or name, (SfField("Name", SfType.STRING, 80), *fields), key_prefix=prefix
            )
    return merged


@functools.cache
def project_objects(mappings_dir: Path = DEFAULT_MAPPINGS) -> dict[str, SfObject]:
    """The schema's objects and those the mapping files in `mappings_dir` declare."""
    return merge_declared(
        OBJECTS,
        [
            *(load_mapping(path) for path in flow_mapping_files(mappings_dir)),
            *(load_to_afas_mapping(path) for path in to_afas_mapping_files(mappings_dir)),
        ],
    )
