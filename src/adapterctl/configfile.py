"""Reading a configuration file that lives on a host (a node's, a gateway's, a key file):
validated against its model with file, line and field in the first problem's message."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Severity
from adapterctl.gates.schema import validate
from adapterctl.model.common import kind
from adapterctl.yamlio import YamlError, read

M = TypeVar("M", bound=BaseModel)


def load_config(path: Path, model: type[M], what: str, option: str) -> M:
    """The file at ``path`` as ``model``; a missing file is a usage error naming ``option``,
    a bad one an input error naming its file, line and field."""
    shown = str(path)
    try:
        data, source = read(path, shown)
    except (FileNotFoundError, IsADirectoryError):
        raise UsageError(f"{option} {shown}: no such file") from None
    except YamlError as exc:
        raise InputError(f"{shown}:{exc.line}: {exc.message}", hint=exc.hint) from None
    if not isinstance(data, dict):
        raise InputError(f"{shown}: expected {what} mapping, got {kind(data)}")
    config, findings = validate(model, data, source)
    if config is None:
        first = next(f for f in findings if f.severity is Severity.ERROR)
        raise InputError(f"{first.location}: {first.message}", hint=first.hint)
    return config
