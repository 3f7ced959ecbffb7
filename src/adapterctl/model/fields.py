"""Introspection of the models along a JSON path (for did-you-mean on unknown fields)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from adapterctl.findings import JsonPath


def field_names_at(model: type[BaseModel], path: JsonPath) -> tuple[str, ...]:
    """Names (aliases where set) of the fields allowed in the mapping at ``path``."""
    current: Any = model
    for part in path:
        current = _step(_unwrap(current), part)
        if current is None:
            return ()
    target = _unwrap(current)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return tuple(info.alias or name for name, info in target.model_fields.items())
    return ()


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = (models or members)[0]
        else:
            return annotation


def _step(annotation: Any, part: str | int) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0] if isinstance(part, int) else None
    return None
