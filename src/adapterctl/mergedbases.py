"""Merged bases named on the command line: a base routed as a model of its own, for the
adapter line it was merged from (``promote`` and ``eval`` take ``NAME@REVISION``)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from adapterctl import layout
from adapterctl.errors import UsageError
from adapterctl.model import BaseManifest
from adapterctl.model.common import SEMVER_PATTERN
from adapterctl.model.refs import BaseRef
from adapterctl.registry import Registry


def merged_target(root: Path, text: str) -> tuple[str, str] | None:
    """``NAME@REVISION`` of a merged base, from the command line, as (the alias it was merged
    from, the route key); None when ``text`` names no base manifest (then it is read as an
    adapter revision, ``NAME@VERSION``)."""
    name, _, revision = text.partition("@")
    try:
        BaseRef.model_validate({"name": name, "revision": revision})
    except ValidationError:
        return None
    if (
        re.fullmatch(SEMVER_PATTERN, revision)
        or not (root / layout.base_path(name, revision)).is_file()
    ):
        return None
    merge = merged_base(Registry.load(root), text).merge
    assert merge is not None  # merged_base refuses a base without one
    return str(merge.source.adapter.name), text


def merged_base(registry: Registry, key: str) -> BaseManifest:
    """The merged base ``key`` names; a usage error when it is no merged base."""
    name, _, revision = key.partition("@")
    path = layout.base_path(name, revision)
    base = registry.base(name, revision)
    if base is None:
        what = "is invalid (adapterctl validate)" if registry.exists(path) else "does not exist"
        raise UsageError(f"no base {key}: {path} {what}")
    if base.merge is None:
        raise UsageError(
            f"{key} is not a merged base ({path} has no merge record): only a base merged from "
            "an adapter line (adapterctl merge) is routed as a model of its own, for that line"
        )
    return base
