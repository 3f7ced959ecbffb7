"""Rendering new registry documents as YAML, and writing them once."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from adapterctl.documents import MODELINE
from adapterctl.errors import InputError
from adapterctl.fsutil import write_atomic
from adapterctl.layout import schema_reference
from adapterctl.model.common import Frozen
from adapterctl.model.kinds import Kind

_SCALARS = (str, int, float, bool, date)


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists; short scalar lists and small mappings on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        del indentless  # lists are always indented under their key
        super().increase_indent(flow, False)

    def represent_sequence(self, tag: str, sequence: Any, flow_style: bool | None = None) -> Any:
        del flow_style  # decided here, from the content
        flat = all(isinstance(item, _SCALARS) for item in sequence)
        return super().represent_sequence(tag, sequence, flow_style=flat)

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> Any:
        del flow_style  # decided here, from the content
        values = list(mapping.values()) if isinstance(mapping, dict) else []
        small = 0 < len(values) <= 3 and all(
            isinstance(v, _SCALARS) and ":" not in str(v) for v in values
        )
        return super().represent_mapping(tag, mapping, flow_style=small)


def _timestamp(dumper: yaml.SafeDumper, value: datetime) -> yaml.ScalarNode:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", text)


def _tuple(dumper: yaml.SafeDumper, value: tuple[Any, ...]) -> yaml.SequenceNode:
    return dumper.represent_list(list(value))


def _enum(dumper: yaml.SafeDumper, value: Enum) -> yaml.ScalarNode:
    return dumper.represent_str(str(value.value))


_Dumper.add_representer(datetime, _timestamp)
_Dumper.add_representer(tuple, _tuple)
_Dumper.add_multi_representer(Enum, _enum)


def render(path: str, kind: Kind, model: Frozen) -> str:
    """The document as committed: schema modeline, then fields in model order."""
    data = _pruned(model.model_dump(mode="python", by_alias=True, exclude_none=True))
    if data.get("quantization") == {"method": "none"}:
        data["quantization"] = "none"
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return f"{MODELINE}{schema_reference(path, kind)}\n{body}"


def _pruned(data: dict[str, Any]) -> dict[str, Any]:
    """Without empty lists and mappings: optional collections left out read better."""
    out = {}
    for key, raw in data.items():
        value = _pruned(raw) if isinstance(raw, dict) else raw
        if value not in ([], {}, ()):
            out[key] = value
    return out


def ensure_new(root: Path, path: str) -> None:
    """Refuse to register over an existing manifest: manifests are immutable."""
    if (root / path).exists():
        raise InputError(
            f"{path} already exists",
            hint="manifests are immutable: register a new version instead",
        )


def write_new(root: Path, path: str, text: str) -> None:
    """Create ``root/path``; an existing file is never replaced."""
    ensure_new(root, path)
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(target, text, exclusive=True)
    except FileExistsError:
        raise InputError(f"{path} was created by someone else meanwhile") from None


def now() -> datetime:
    """Registration time: SOURCE_DATE_EPOCH when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)
