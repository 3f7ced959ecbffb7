"""The kinds of registry documents, their models and their schema files."""

from __future__ import annotations

from enum import StrEnum

from adapterctl.model.adapter_line import AdapterLine
from adapterctl.model.base import BaseManifest
from adapterctl.model.common import Frozen
from adapterctl.model.environment import Environment
from adapterctl.model.golden import GoldenSuite
from adapterctl.model.hardware import HardwareClass
from adapterctl.model.pressure import PressureProfile
from adapterctl.model.revision import AdapterRevision


class Kind(StrEnum):
    ADAPTER_LINE = "adapter-line"
    ADAPTER_REVISION = "adapter-revision"
    BASE = "base"
    ENVIRONMENT = "environment"
    GOLDEN_SUITE = "golden-suite"
    HARDWARE_CLASS = "hardware-class"
    PRESSURE_PROFILE = "pressure-profile"

    @property
    def model(self) -> type[Frozen]:
        return _MODELS[self]

    @property
    def schema_file(self) -> str:
        return f"{self.value}.schema.json"


_MODELS: dict[Kind, type[Frozen]] = {
    Kind.ADAPTER_LINE: AdapterLine,
    Kind.ADAPTER_REVISION: AdapterRevision,
    Kind.BASE: BaseManifest,
    Kind.ENVIRONMENT: Environment,
    Kind.GOLDEN_SUITE: GoldenSuite,
    Kind.HARDWARE_CLASS: HardwareClass,
    Kind.PRESSURE_PROFILE: PressureProfile,
}
