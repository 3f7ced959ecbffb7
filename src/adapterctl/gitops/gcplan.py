"""The ``gc`` plan: every stored artifact, kept (with reasons), to delete, or unknown.

Revision manifests (``artifact.digest``) and base manifests (``tokenizer_artifact``,
``weights_artifact``) say which stored digest belongs to what. An artifact no valid
manifest names is *unknown* and is never deleted: gc cannot tell what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.gitops.retention import Retention, retained
from adapterctl.gitrepo import RegistryRepo
from adapterctl.model import BaseManifest
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.store.base import Store, StoreError

BASE_REASON = "base artifact"


@dataclass(frozen=True, slots=True)
class Item:
    """One stored artifact and what the registry says about it."""

    digest: str
    revisions: tuple[str, ...]
    """``name@version`` of every revision manifest naming this digest."""
    bases: tuple[str, ...]
    """``name@revision`` of every base manifest naming this digest."""
    reasons: tuple[str, ...]
    """Why it is kept; empty for an artifact to delete or an unknown one."""
    files: dict[str, int]
    """Stored file name → size."""

    @property
    def size(self) -> int:
        return sum(self.files.values())


@dataclass(frozen=True, slots=True)
class Plan:
    store: str
    keep_states: int
    kept: tuple[Item, ...]
    delete: tuple[Item, ...]
    unknown: tuple[Item, ...]
    warnings: tuple[str, ...]


@dataclass
class _Owners:
    revisions: dict[str, list[str]] = field(default_factory=dict)
    bases: dict[str, list[str]] = field(default_factory=dict)

    def revisions_of(self, digest: str) -> tuple[str, ...]:
        return tuple(sorted(self.revisions.get(digest, ())))

    def bases_of(self, digest: str) -> tuple[str, ...]:
        return tuple(sorted(self.bases.get(digest, ())))


def plan(root: Path, store: Store, keep_states: int) -> tuple[Plan, Registry]:
    """What gc would keep and delete in ``store`` for the registry at ``root``."""
    repo = RegistryRepo.open(root, "gc")
    registry = Registry.load(root)
    retention = retained(repo, registry, keep_states)
    owners = _owners(registry)
    items = [_item(store, digest, owners, retention) for digest in store.digests()]
    return (
        Plan(
            store=store.uri,
            keep_states=keep_states,
            kept=tuple(item for item in items if item.reasons),
            delete=tuple(item for item in items if item.revisions and not item.reasons),
            unknown=tuple(item for item in items if not item.revisions and not item.bases),
            warnings=retention.warnings,
        ),
        registry,
    )


def _owners(registry: Registry) -> _Owners:
    owners = _Owners()
    for entry in registry.of_kind(Kind.ADAPTER_REVISION):
        name, version = entry.placement.name, entry.placement.item or ""
        revision = registry.revision(name, version)
        if revision is not None:
            owners.revisions.setdefault(revision.artifact.digest, []).append(f"{name}@{version}")
    for entry in registry.of_kind(Kind.BASE):
        base = registry.model(entry.path, BaseManifest)
        if base is None:
            continue
        for digest in (base.tokenizer_artifact, base.weights_artifact):
            if digest is not None:
                owners.bases.setdefault(digest, []).append(f"{base.name}@{base.revision}")
    return owners


def _item(store: Store, digest: str, owners: _Owners, retention: Retention) -> Item:
    revisions = owners.revisions_of(digest)
    bases = owners.bases_of(digest)
    reasons: list[str] = []
    for revision in revisions:
        reasons += [r for r in retention.reasons.get(revision, ()) if r not in reasons]
    if bases:
        reasons.append(BASE_REASON)
    return Item(digest, revisions, bases, tuple(reasons), store.files(digest))


def delete(store: Store, doomed: tuple[Item, ...]) -> None:
    """Delete the planned artifacts; on failure, say how far it got."""
    for done, item in enumerate(doomed):
        try:
            store.delete(item.digest)
        except StoreError as exc:
            raise InputError(
                f"{exc.message}; deleted {done} of {len(doomed)} artifacts before this failure",
                hint="the archive lists every planned deletion; run gc again to finish",
            ) from None
