"""What a node must do to reach the desired state: pure, from desired and observed.

Observed comes from ``/v1/models``: an adapter counts as loaded only when its card's id is
the immutable served name *and* its root is the path this node loads it from (a card whose
root differs is not the revision we want, whatever its name says). Loads come before
unloads, so an alias never points at nothing; a wrong-root card is unloaded just before
its name is loaded again, because vLLM refuses to load a name twice.

Revisions routed at weight 0 are *retained*: kept verified in the node's cache, so a
rollback loads them without a download, but not loaded (they would hold a LoRA slot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from adapterctl.serving.desired import DesiredRevision
from adapterctl.serving.vllm import Card

MANAGED = re.compile(r"^[a-z0-9][a-z0-9-]*@\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$")
"""Served names adapterctl manages (``<alias>@<semver>``); other adapters are left alone."""


@dataclass(frozen=True, slots=True)
class Load:
    revision: DesiredRevision
    path: Path
    replaces_wrong_root: str | None = None
    """The root of a card with this name that is not ours (unloaded first)."""


@dataclass(frozen=True, slots=True)
class Plan:
    loads: tuple[Load, ...]
    prefetch: tuple[DesiredRevision, ...]
    """Retained revisions not in the cache yet."""
    unloads: tuple[str, ...]
    unmanaged: tuple[str, ...]
    """Adapters on the node whose names adapterctl does not manage (left alone)."""

    @property
    def empty(self) -> bool:
        return not self.loads and not self.prefetch and not self.unloads


def adapter_path(cache_dir: Path, digest: str) -> Path:
    """Where the node keeps a verified artifact: ``<cache>/sha256/<hex>``."""
    return cache_dir / "sha256" / digest.removeprefix("sha256:")


def make_plan(desired: tuple[DesiredRevision, ...], cards: list[Card], cache_dir: Path) -> Plan:
    adapters = {card.id: card for card in cards if card.parent is not None}
    served = tuple(revision for revision in desired if revision.routed)
    retained = tuple(revision for revision in desired if not revision.routed)
    loads = []
    for revision in served:
        path = adapter_path(cache_dir, revision.digest)
        card = adapters.get(revision.served_name)
        if card is None:
            loads.append(Load(revision, path))
        elif card.root != str(path):
            loads.append(Load(revision, path, replaces_wrong_root=card.root))
    wanted = {revision.served_name for revision in served}
    extra = sorted(name for name in adapters if name not in wanted)
    return Plan(
        tuple(loads),
        tuple(r for r in retained if not adapter_path(cache_dir, r.digest).is_dir()),
        tuple(name for name in extra if MANAGED.match(name)),
        tuple(name for name in extra if not MANAGED.match(name)),
    )


def loaded_as_desired(
    desired: tuple[DesiredRevision, ...], cards: list[Card], cache_dir: Path
) -> bool:
    """Whether ``cards`` show every desired revision at its path and nothing stale."""
    return make_plan(desired, cards, cache_dir).empty
