"""The quantization profile an adapter was trained against and a base is served with."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from adapterctl.model.common import Frozen, PositiveInt

QuantizationMethod = Literal[
    "none", "awq", "gptq", "fp8", "bitsandbytes", "gguf", "compressed-tensors"
]


class Quantization(Frozen):
    """How the base weights are quantized; write ``none`` for full precision."""

    method: QuantizationMethod
    """Quantization method, as named in the base's quantization_config."""
    bits: PositiveInt | None = None
    """Weight bits (for example 4 or 8); absent for ``none``."""
    group_size: int | None = Field(default=None, strict=True, ge=-1)
    """Quantization group size (-1 for per-channel); absent when not applicable."""

    @model_validator(mode="before")
    @classmethod
    def _from_word(cls, data: Any) -> Any:
        if data == "none":
            return {"method": "none"}
        if not isinstance(data, dict | Quantization):
            raise PydanticCustomError(
                "quantization",
                "expected 'none' or a mapping with method, bits and group_size, got '{value}'",
                {"value": data},
            )
        return data

    @property
    def is_none(self) -> bool:
        return self.method == "none"

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        return {"anyOf": [{"const": "none"}, schema], "description": schema.pop("description")}
