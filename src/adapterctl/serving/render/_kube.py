"""Kubernetes helpers shared by the ``aibrix`` and ``kserve`` targets."""

from __future__ import annotations

import hashlib
import re

from adapterctl.errors import InputError, UsageError
from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render.base import ArtifactBase, RenderOptions

MAX_NAME = 63
_INVALID = re.compile(r"[^a-z0-9]+")
MANAGED_BY = {"app.kubernetes.io/managed-by": "adapterctl"}


def dns_name(text: str) -> str:
    """A DNS-1123 label for ``text``: ``support-bot@1.1.0`` → ``support-bot-1-1-0``.

    Longer names keep a hash of the original so that two long names stay distinct.
    """
    name = _INVALID.sub("-", text.lower()).strip("-") or "x"
    if len(name) <= MAX_NAME:
        return name
    suffix = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{suffix}"


def unique(names: dict[str, str]) -> None:
    """Refuse two served names that map to one resource name (original → DNS name)."""
    seen: dict[str, str] = {}
    for original, name in names.items():
        if name in seen:
            raise InputError(
                f"{seen[name]} and {original} both render as the resource name '{name}'"
            )
        seen[name] = original


def metadata(
    name: str, state: DesiredState, options: RenderOptions, annotations: dict[str, str]
) -> dict[str, object]:
    meta: dict[str, object] = {"name": name}
    if options.namespace:
        meta["namespace"] = options.namespace
    meta["labels"] = MANAGED_BY | {"adapterctl.io/environment": state.env}
    meta["annotations"] = {"adapterctl.io/commit": state.commit} | annotations
    return meta


def artifacts(options: RenderOptions, target: str) -> ArtifactBase:
    if options.artifacts is None:
        raise UsageError(f"--target {target} needs the artifact store: pass --store URI")
    return options.artifacts


def local_store_warning(base: ArtifactBase, engine: str) -> tuple[str, ...]:
    if not base.local:
        return ()
    return (
        f"{base.url} is a local path: {engine} pods can only read it if they mount it at "
        "the same path; pass --store with an s3:// or http(s):// URI they can reach",
    )
