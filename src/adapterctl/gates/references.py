"""Cross references: every registry file a document names must exist, and routes must
point at revisions trained on the environment's base."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl import layout
from adapterctl.documents import Entry
from adapterctl.findings import Finding, Severity
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry


def check(registry: Registry) -> list[Finding]:
    """Findings for every reference that does not resolve or does not fit."""
    findings: list[Finding] = []
    for entry in registry.entries.values():
        findings += _dangling(registry, entry)
    for entry in registry.of_kind(Kind.ENVIRONMENT):
        findings += _route_bases(registry, entry)
    return findings


def _dangling(registry: Registry, entry: Entry) -> Iterator[Finding]:
    for json_path, target in entry.references:
        if target == entry.path:
            yield Finding(
                "references/self-reference",
                Severity.ERROR,
                registry.locate(entry.path, json_path),
                "an environment cannot be promoted from itself",
                "name the upstream environment (e.g. staging), or remove promotion.from",
            )
        if registry.exists(target):
            continue
        placement = layout.classify(target)
        what = placement.kind.value if placement else "file"
        yield Finding(
            f"references/missing-{what}",
            Severity.ERROR,
            registry.locate(entry.path, json_path),
            f"{what.replace('-', ' ')} {target} does not exist",
            _hint(registry, placement),
        )


def _hint(registry: Registry, placement: layout.Placement | None) -> str:
    if placement is None or placement.kind is not Kind.HARDWARE_CLASS:
        return "add it, or correct the reference"
    known = sorted(e.placement.name for e in registry.of_kind(Kind.HARDWARE_CLASS))
    declared = f"the registry declares {', '.join(known)}" if known else "none is declared"
    return (
        f"declare the class in {layout.hardware_path(placement.name)}, or name another ({declared})"
    )


def _route_bases(registry: Registry, env_entry: Entry) -> Iterator[Finding]:
    """An environment must route only revisions whose base is the environment's base."""
    refs = dict(env_entry.references)
    env_base = refs[("base",)]
    for json_path, target in env_entry.references:
        revision = registry.entries.get(target)
        if revision is None or revision.placement.kind is not Kind.ADAPTER_REVISION:
            continue
        revision_base = dict(revision.references)[("base",)]
        if revision_base != env_base:
            yield Finding(
                "references/base-mismatch",
                Severity.ERROR,
                registry.locate(env_entry.path, json_path),
                f"{target} was trained on {revision_base}, but this environment serves {env_base}",
                "route a revision trained on the environment's base, or retrain it",
            )
