"""The registry's data model: frozen pydantic models, the source of the JSON Schemas."""

from adapterctl.model.adapter_line import AdapterLine
from adapterctl.model.base import BaseManifest
from adapterctl.model.environment import Environment
from adapterctl.model.golden import GoldenSuite
from adapterctl.model.hardware import HardwareClass
from adapterctl.model.pressure import PressureProfile
from adapterctl.model.quantization import Quantization
from adapterctl.model.refs import AdapterRef, BaseRef
from adapterctl.model.revision import AdapterRevision

__all__ = [
    "AdapterLine",
    "AdapterRef",
    "AdapterRevision",
    "BaseManifest",
    "BaseRef",
    "Environment",
    "GoldenSuite",
    "HardwareClass",
    "PressureProfile",
    "Quantization",
]
