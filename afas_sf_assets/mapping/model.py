"""Mapping files as pydantic models, loaded with errors that name the file, the line and the key."""

from __future__ import annotations

import functools
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from afas_sf_assets.errors import AfasSfError
from afas_sf_assets.mapping.transforms import TRANSFORMS, resolve_call

# The checkout's `mappings/`, or the folder AFAS_SF_MAPPINGS names: an installed package's, a container
# image's, a tenant's own.
DEFAULT_MAPPINGS = Path(os.environ.get("AFAS_SF_MAPPINGS") or Path(__file__).resolve().parents[2] / "mappings")


class MappingFileError(AfasSfError):
    """A mapping file that cannot be used, with where and why."""


class WritePolicy(StrEnum):
    CREATE = "create"  # sent when the record is created; enrichment in Salesforce is never overwritten
    ALWAYS = "always"  # sent on every change


class TooLong(StrEnum):
    FAIL = "fail"  # the record fails, naming the field, the org's limit and the value's length
    TRUNCATE = "truncate"  # cut to the length the org's describe reports


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TransformStep(_Strict):
    name: str
    args: Any = None


class FieldMapping(_Strict):
    source: str | list[str] | None = Field(default=None, alias="from")
    value: Any = None
    transform: tuple[TransformStep, ...] = ()
    map: str | None = None
    on: WritePolicy = WritePolicy.ALWAYS
    required: bool = False
    too_long: TooLong = TooLong.FAIL
    # The field written instead where the org has no `target` field (e.g. BillingCountry where the org has
    # no State and Country Picklists, so no BillingCountryCode).
    fallback: str | None = None

    @field_validator("transform", mode="before")
    @classmethod
    def _steps(cls, raw: Any) -> Any:
        steps = []
        for item in raw if isinstance(raw, list) else [raw]:
            if isinstance(item, str):
                steps.append({"name": item})
            elif isinstance(item, dict) and len(item) == 1:
                ((name, args),) = item.items()
                steps.append({"name": name, "args": args})
            else:
                raise ValueError(f"a transform is a name or {{name: arguments}}, not {item!r}")
        for step in steps:
            if step["name"] not in TRANSFORMS:
                raise ValueError(f"unknown transform {step['name']!r}; known: {', '.join(sorted(TRANSFORMS))}")
            if step["name"] == "call":
                resolve_call(step.get("args"))  # a function that cannot be found fails the file, not a run
        return steps

    @model_validator(mode="after")
    def _has_a_source(self) -> FieldMapping:
        if self.source is None and self.value is None:
            raise ValueError("give `from` (AFAS field or fields) or `value` (a constant)")
        return self

    @property
    def source_fields(self) -> list[str]:
        if self.source is None:
            return []
        return list(self.source) if isinstance(self.source, list) else [self.source]


class Source(_Strict):
    connector: str
    key: tuple[str, ...]
    modified: str | None = "ModifiedDate"

    @field_validator("key", mode="before")
    @classmethod
    def _key_list(cls, raw: Any) -> Any:
        return [raw] if isinstance(raw, str) else raw


class Target(_Strict):
    object: str
    external_id: str


class Profile(_Strict):
    """Another shape of record a flow's rules may choose for a row (a person account, a contact)."""

    object: str
    external_id: str
    fields: dict[str, FieldMapping]

    def for_org(self, present: set[str]) -> Profile:
        return self.model_copy(update={"fields": fields_for_org(self.fields, present)})


def fields_for_org(fields: dict[str, FieldMapping], present: set[str]) -> dict[str, FieldMapping]:
    """The fields as written in an org whose object has the `present` fields (lower-cased names):
    a field the org lacks is written to its fallback."""
    return {
        (spec.fallback if spec.fallback and name.lower() not in present else name): spec
        for name, spec in fields.items()
    }


class Lookup(_Strict):
    """A relationship to a record another flow keeps in Salesforce, by that flow's external id."""

    flow: str
    source: str | list[str] = Field(alias="from")
    # Default: the other flow's target external id (customers: Account.AFAS_Debtor_Id__c).
    external_id: str | None = None
    # Hold the record back while the one it points at is not in Salesforce yet (false: send it without).
    wait: bool = True

    @property
    def source_fields(self) -> list[str]:
        return list(self.source) if isinstance(self.source, list) else [self.source]


DeclaredType = Literal[
    "text", "textarea", "email", "phone", "url", "number", "currency", "percent", "date", "datetime", "checkbox",
    "picklist", "lookup",
]  # fmt: skip


class DeclaredField(_Strict):
    """A custom field a flow needs, as `afas-sf metadata` deploys it (and the sandbox serves it)."""

    type: DeclaredType
    label: str | None = None
    length: int | None = Field(default=None, ge=1, le=131072)
    decimals: int | None = Field(default=None, ge=0, le=17)
    external_id: bool = False
    required: bool = False
    values: tuple[str, ...] = ()
    to: str | None = None  # a lookup's object

    @model_validator(mode="after")
    def _complete(self) -> DeclaredField:
        if self.type == "lookup" and not self.to:
            raise ValueError("a lookup names the object it points to: `to: Account`")
        if self.type == "picklist" and not self.values:
            raise ValueError("a picklist lists its `values`")
        return self


class DeclaredObject(_Strict):
    """A custom object (`…__c`, with `label`), or custom fields on a standard object."""

    label: str | None = None
    fields: dict[str, DeclaredField] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _custom(cls, fields: dict[str, DeclaredField]) -> dict[str, DeclaredField]:
        standard = [name for name in fields if not name.endswith("__c")]
        if standard:
            raise ValueError(f"{', '.join(standard)}: a custom field's name ends in __c")
        return fields


class Mapping(_Strict):
    flow: str
    source: Source
    target: Target
    fields: dict[str, FieldMapping]
    profiles: dict[str, Profile] = Field(default_factory=dict)
    value_maps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    # For a flow declared by its mapping file alone (flows/generic.py):
    description: str = ""
    after: tuple[str, ...] = ()  # flows whose records must be in Salesforce first (asset lineage)
    lookups: dict[str, Lookup] = Field(default_factory=dict)  # relationship name (`Account__r`): the record
    declare: dict[str, DeclaredObject] = Field(default_factory=dict)  # custom objects and fields it needs
    # Fields sent, on a full run, to records whose AFAS row is gone (they are never deleted).
    deactivate: dict[str, Any] | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _maps_exist(self) -> Mapping:
        for section, _, fields in self.sections():
            for name, spec in fields.items():
                if spec.map and spec.map not in self.value_maps:
                    raise ValueError(f"{section}.{name}: value map {spec.map!r} is not defined under value_maps")
        if self.target.external_id not in self.fields:
            raise ValueError(f"the external id {self.target.external_id} must be one of the mapped fields")
        for name in self.lookups:
            if not (name.endswith("__r") or name.isidentifier()) or name in self.fields:
                raise ValueError(f"lookups.{name}: give the relationship name (Account__r, or Account), not a field")
        return self

    @field_validator("declare")
    @classmethod
    def _labelled(cls, declare: dict[str, DeclaredObject]) -> dict[str, DeclaredObject]:
        unlabelled = [name for name, declared in declare.items() if name.endswith("__c") and not declared.label]
        if unlabelled:
            raise ValueError(f"{', '.join(unlabelled)}: a new custom object needs a `label`")
        return declare

    def for_org(self, present: dict[str, set[str]]) -> Mapping:
        """This mapping as written in an org, given each target object's fields (lower-cased names)."""
        return self.model_copy(
            update={
                "fields": fields_for_org(self.fields, present.get(self.target.object, set())),
                "profiles": {
                    name: profile.for_org(present.get(profile.object, set())) for name, profile in self.profiles.items()
                },
            }
        )

    def sections(self) -> list[tuple[str, str, dict[str, FieldMapping]]]:
        """(where in the file, Salesforce object, fields) for the main fields and every profile."""
        return [("fields", self.target.object, self.fields)] + [
            (f"profiles.{name}.fields", p.object, p.fields) for name, p in self.profiles.items()
        ]

    @property
    def profile_source_fields(self) -> list[str]:
        """AFAS fields the profiles read (what a record's other shapes and children send)."""
        return sorted(
            {f for profile in self.profiles.values() for spec in profile.fields.values() for f in spec.source_fields}
        )

    @property
    def source_fields(self) -> list[str]:
        fields = list(self.source.key) + ([self.source.modified] if self.source.modified else [])
        for spec in self.fields.values():
            fields.extend(spec.source_fields)
        for lookup in self.lookups.values():
            fields.extend(lookup.source_fields)
        for profile in self.profiles.values():
            for spec in profile.fields.values():
                fields.extend(spec.source_fields)
        return list(dict.fromkeys(fields))


# A Salesforce field as SOQL names it: `Email`, `AFAS_Email__c`, `Account.Name`.
_SOQL_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
# An AFAS field by where it sits in the UpdateConnector's body: `Nm`, `KnOrganisation.KnBasicAddressAdr.Rs`.
_AFAS_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$")


class SalesforceSource(_Strict):
    """Which Salesforce records a flow to AFAS sends."""

    object: str
    where: str | None = None  # a SOQL condition
    modified: str = "SystemModstamp"
    write_back: str  # the Salesforce field that receives the AFAS key; a record with it set is in AFAS


class FindInAfas(_Strict):
    """How AFAS is asked whether it holds a record already, before one is inserted: a GetConnector whose
    `field` equals the Salesforce record's `from`. A crash between AFAS's insert and the write-back then ends,
    on the next run, with the write-back only."""

    connector: str
    field: str
    source: str = Field(alias="from")
    key: str  # the GetConnector's field holding the AFAS key


class AfasTarget(_Strict):
    connector: str  # an UpdateConnector
    key: str  # the field naming the record: AFAS returns it on insert; it is sent on update
    find: FindInAfas
    update: bool = True  # send changes of records AFAS has; false: insert only


class ToAfasMapping(_Strict):
    """A flow from Salesforce into an AFAS UpdateConnector, declared by its mapping file alone
    (flows/generic_out.py). `fields` are named by their place in the UpdateConnector's body."""

    flow: str
    direction: Literal["to_afas"]
    description: str = ""
    after: tuple[str, ...] = ()
    source: SalesforceSource
    target: AfasTarget
    fields: dict[str, FieldMapping]
    value_maps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    declare: dict[str, DeclaredObject] = Field(default_factory=dict)
    path: Path | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> ToAfasMapping:
        for name, spec in self.fields.items():
            if not _AFAS_PATH.match(name):
                raise ValueError(f"fields.{name}: name an AFAS field by its place in the body, e.g. KnOrganisation.Nm")
            if spec.map and spec.map not in self.value_maps:
                raise ValueError(f"fields.{name}: value map {spec.map!r} is not defined under value_maps")
        for where, name in (
            ("source.modified", self.source.modified),
            ("source.write_back", self.source.write_back),
            ("target.find.from", self.target.find.source),
            *((f"fields.{target}.from", field) for target, spec in self.fields.items() for field in spec.source_fields),
        ):
            if not _SOQL_FIELD.match(name):
                raise ValueError(f"{where}: {name!r} is not a Salesforce field name")
        return self

    @property
    def source_fields(self) -> list[str]:
        """The Salesforce fields a run selects."""
        fields = ["Id", self.source.modified, self.source.write_back, self.target.find.source]
        fields.extend(field for spec in self.fields.values() for field in spec.source_fields)
        return list(dict.fromkeys(fields))


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. Under YAML 1.1 the policy key `on:` would read as True."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as the file has it)."""
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            match = next((value for key, value in current.value if key.value == str(part)), None)
            if match is None:
                key_node = next((key for key, _ in current.value if key.value == str(part)), None)
                return (key_node or current).start_mark.line + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1


def _no_twice(path: Path, node: yaml.Node | None, where: str = "") -> None:
    """YAML keeps the last of two equal keys without a word: a field mapped twice would silently lose one."""
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in lines:
                raise MappingFileError(
                    f"{path}:{key.start_mark.line + 1}: {where}{name} appears twice (also at line {lines[name]}); "
                    "keep one"
                )
            lines[name] = key.start_mark.line + 1
            _no_twice(path, value, f"{where}{name}.")
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            _no_twice(path, item, f"{where}{number}.")


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml_model(path: Path, model: type[ModelT], what: str) -> ModelT:
    """A YAML file as a pydantic model; every error names the file, the line and the key."""
    if not path.is_file():
        raise MappingFileError(
            f"no {what} {path}: set AFAS_SF_MAPPINGS to the folder holding the mapping files "
            "(the repository's mappings/, copied into the image at /opt/afas-sf/mappings)"
        )
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
        data = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as exc:
        raise MappingFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingFileError(f"{path}: {what} is a YAML mapping")
    _no_twice(path, node)
    try:
        return model.model_validate({**data, "path": path})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{path}:{_line_of(node, loc) if node else 1}: {key}: {error['msg']}")
        raise MappingFileError(f"invalid {what}\n" + "\n".join(problems)) from None


# Files in the mapping folder that hold settings, not a flow's mapping.
SETTINGS_FILES = ("afas_orders.yaml",)


def flow_mapping_files(directory: Path) -> list[Path]:
    """Every AFAS → Salesforce flow's mapping file in a mapping folder, by name."""
    return [p for p in _mapping_files(directory) if not _to_afas(p)]


def to_afas_mapping_files(directory: Path) -> list[Path]:
    """Every Salesforce → AFAS flow's mapping file (`direction: to_afas`) in a mapping folder, by name."""
    return [p for p in _mapping_files(directory) if _to_afas(p)]


def _mapping_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name not in SETTINGS_FILES)


def _to_afas(path: Path) -> bool:
    stat = path.stat()
    return _declares_to_afas(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _declares_to_afas(path: Path, mtime_ns: int, size: int) -> bool:
    """Read once per version of the file: listing a folder's flows both ways asks it of every file."""
    try:
        data = yaml.load(path.read_text(), Loader=_Yaml12Loader)
    except yaml.YAMLError:
        return False  # loading it as a mapping file names the error
    return isinstance(data, dict) and data.get("direction") == "to_afas"


def load_to_afas_mapping(path: Path) -> ToAfasMapping:
    return load_yaml_model(path, ToAfasMapping, "mapping file")


def load_mapping(path: Path) -> Mapping:
    """A flow's mapping, read once per version of the file: the code location asks for each one several times
    as it starts (assets, sensors, the flows a mapping file declares), and a changed file is read again."""
    try:
        stat = path.stat()
    except OSError:
        return load_yaml_model(path, Mapping, "mapping file")  # says what is missing
    return _load_mapping(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _load_mapping(path: Path, mtime_ns: int, size: int) -> Mapping:
    return load_yaml_model(path, Mapping, "mapping file")
