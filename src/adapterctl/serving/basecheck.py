"""Fail fast when a node serves another base than the environment's.

Two checks, before anything is loaded or unloaded: the base card of ``/v1/models`` (the
one without a parent) must carry the node's served name and local base path, and the local
base directory's fingerprints (config, tokenizer, chat template) must equal the base
manifest's — the same fingerprints ``register-base`` recorded, never the weights.

Within one sync or status, each local base folder is read once (:class:`LocalBases`): the
nodes of one host share their base folder, and a thousand of them would otherwise list and
stat it a thousand times. Never across syncs: a base replaced between two is read again.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.inspect.base import read_base
from adapterctl.model import BaseManifest
from adapterctl.serving.nodeconfig import Node
from adapterctl.serving.vllm import Card, NodeCallError

FINGERPRINTS = ("config_digest", "tokenizer_digest", "chat_template_digest")


class LocalBases:
    """What one sync has learnt of local paths and base folders, each asked once."""

    def __init__(self) -> None:
        self._paths: dict[str, Path | None] = {}
        self._differing: dict[tuple[Path, str], list[str] | NodeCallError] = {}

    def same_path(self, root: str, path: Path) -> bool:
        """Whether the node's base card ``root`` and the configured ``path`` are one folder."""
        found, wanted = self._resolved(root), self._resolved(str(path))
        return found is not None and found == wanted

    def differing(self, path: Path, base: BaseManifest) -> list[str]:
        """The fingerprints of the folder ``path`` that are not ``base``'s."""
        key = (path, f"{base.name}@{base.revision}")
        if key not in self._differing:
            try:
                self._differing[key] = _differing(path, base)
            except NodeCallError as exc:
                self._differing[key] = exc
        found = self._differing[key]
        if isinstance(found, NodeCallError):
            raise NodeCallError(found.message, found.reason)
        return found

    def _resolved(self, path: str) -> Path | None:
        if path not in self._paths:
            try:
                self._paths[path] = Path(path).resolve()
            except OSError:
                self._paths[path] = None
        return self._paths[path]


def check_base(node: Node, base: BaseManifest, cards: list[Card], local: LocalBases) -> None:
    """Raise ``base-mismatch`` or ``base-fingerprint`` when the node is on another base
    (``local``: what this sync or status has already read of the local folders)."""
    expected_id = node.base_served_name(str(base.name))
    label = f"{base.name} {base.revision}"
    bases = [card for card in cards if card.parent is None]
    if not bases:
        raise NodeCallError(f"the node lists no base model in /v1/models; {label} expected",
                            "base-mismatch")  # fmt: skip
    card = bases[0]
    if card.id != expected_id or not local.same_path(card.root, node.base_path):
        raise NodeCallError(
            f"the node serves base '{card.id}' from {card.root}, but {node.config.environment} "
            f"needs {label} as '{expected_id}' from {node.base_path}; nothing loaded or unloaded",
            "base-mismatch",
        )
    differing = local.differing(node.base_path, base)
    if differing:
        raise NodeCallError(
            f"the local base at {node.base_path} is not {label}: its {', '.join(differing)} "
            "differ from the base manifest; nothing loaded or unloaded",
            "base-fingerprint",
        )


def _differing(path: Path, base: BaseManifest) -> list[str]:
    try:
        actual = _fingerprints(path, _stamp(path))
    except (InputError, OSError) as exc:
        message = exc.message if isinstance(exc, InputError) else str(exc)
        raise NodeCallError(f"cannot read the local base at {path}: {message}",
                            "base-fingerprint") from None  # fmt: skip
    expected = tuple(str(getattr(base, name)) for name in FINGERPRINTS)
    return [name for name, a, e in zip(FINGERPRINTS, actual, expected, strict=True) if a != e]


def _stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the directory's files: the cache key."""
    entries = sorted(os.scandir(path), key=lambda entry: entry.name)
    return tuple(
        (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
        for entry in entries
        if entry.is_file()
    )


@lru_cache(maxsize=64)
def _fingerprints(path: Path, stamp: tuple[tuple[str, int, int], ...]) -> tuple[str, ...]:
    del stamp  # part of the cache key only: a changed file reads the directory again
    info = read_base(path)
    return tuple(str(getattr(info, name)) for name in FINGERPRINTS)
