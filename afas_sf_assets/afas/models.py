"""Typed shapes of what AFAS returns outside of GetConnector rows."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A GetConnector row: field id → JSON scalar (null for empty values).
Row = dict[str, Any]


class _AfasModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ConnectorSummary(_AfasModel):
    id: str
    description: str = ""


class EnvironmentInfo(_AfasModel):
    envid: str | None = None
    app_name: str | None = Field(default=None, alias="appName")
    group: str | None = None
    token_expiry: str | None = Field(default=None, alias="tokenExpiry")


class MetaInfo(_AfasModel):
    update_connectors: list[ConnectorSummary] = Field(default_factory=list, alias="updateConnectors")
    get_connectors: list[ConnectorSummary] = Field(default_factory=list, alias="getConnectors")
    info: EnvironmentInfo = Field(default_factory=EnvironmentInfo)


class GetConnectorField(_AfasModel):
    id: str
    field_id: str | None = Field(default=None, alias="fieldId")
    data_type: str = Field(alias="dataType")
    label: str = ""
    length: int | None = None
    control_type: int | None = Field(default=None, alias="controlType")
    decimals: int | None = None


class GetConnectorInfo(_AfasModel):
    name: str
    description: str = ""
    fields: list[GetConnectorField]


class UpdateFieldValue(_AfasModel):
    id: str
    description: str = ""


class UpdateConnectorField(_AfasModel):
    field_id: str = Field(alias="fieldId")
    primary_key: bool = Field(default=False, alias="primaryKey")
    data_type: str = Field(alias="dataType")
    label: str = ""
    mandatory: bool = False
    length: int | None = None
    values: list[UpdateFieldValue] = Field(default_factory=list)


class UpdateConnectorObject(_AfasModel):
    name: str
    fields: list[UpdateConnectorField] = Field(default_factory=list)
    objects: list[UpdateConnectorObject] = Field(default_factory=list)


class UpdateConnectorInfo(_AfasModel):
    name: str
    description: str = ""
    fields: list[UpdateConnectorField] = Field(default_factory=list)
    objects: list[UpdateConnectorObject] = Field(default_factory=list)


class ImageFormat(IntEnum):
    ORIGINAL = 0
    THUMBNAIL = 1
    MEDIUM = 2


class FileDownload(_AfasModel):
    filename: str | None = None
    mimetype: str | None = None
    data: bytes
