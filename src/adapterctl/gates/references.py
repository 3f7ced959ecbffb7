"""Cross references: every registry file a document names must exist, and routes must
point at revisions trained on the environment's base."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl import layout
from adapterctl.documents import Entry
from adapterctl.findings import Finding, Severity
from adapterctl.model import BaseManifest
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.store.digests import sha256_file


def check(registry: Registry) -> list[Finding]:
    """Findings for every reference that does not resolve or does not fit."""
    findings: list[Finding] = []
    for entry in registry.entries.values():
        findings += _dangling(registry, entry)
    for entry in registry.of_kind(Kind.ENVIRONMENT):
        findings += _route_bases(registry, entry)
    for entry in registry.of_kind(Kind.BASE):
        findings += _merge_sources(registry, entry)
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
    """An environment must route only revisions whose base is the environment's base, and
    bases (served as models of their own) only for the line they were merged from."""
    refs = dict(env_entry.references)
    env_base = refs[("base",)]
    for json_path, target in env_entry.references:
        revision = registry.entries.get(target)
        if revision is not None and json_path[0] == "routes" and json_path[-1] == "base":
            yield from _routed_base(registry, env_entry, json_path, target)
            continue
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


def _routed_base(
    registry: Registry, env_entry: Entry, json_path: tuple[str | int, ...], target: str
) -> Iterator[Finding]:
    """A base routed for an alias must be merged from that alias's line."""
    base = registry.model(target, BaseManifest)
    if base is None:
        return  # its own schema findings say why
    alias = str(json_path[1])
    source = None if base.merge is None else base.merge.source.adapter
    if source is not None and str(source.name) == alias:
        return
    what = "has no merge record" if source is None else f"was merged from {source}"
    yield Finding(
        "references/route-base-not-merged",
        Severity.ERROR,
        registry.locate(env_entry.path, json_path),
        f"{target} {what}: a route of {alias} may name a base only if it was merged from {alias}",
        f"route a base merged from {alias} (adapterctl merge {alias}@VERSION ...), or a version",
    )


def _merge_sources(registry: Registry, entry: Entry) -> Iterator[Finding]:
    """A merged base names its sources by digest: the adapter revision must be signed, and
    neither its manifest nor its bundle nor the source base's weights may have changed."""
    merged = registry.model(entry.path, BaseManifest)
    if merged is None or merged.merge is None:
        return
    source = merged.merge.source
    label = str(source.adapter)
    manifest = layout.revision_path(source.adapter.name, source.adapter.version)
    bundle = layout.bundle_path(source.adapter.name, source.adapter.version)

    def finding(rule: str, field: str, message: str, hint: str) -> Finding:
        where = registry.locate(entry.path, ("merge", "source", field))
        return Finding(f"references/{rule}", Severity.ERROR, where, message, hint)

    if not registry.exists(manifest):
        return  # _dangling reports it
    bundle_file = registry.root / bundle
    if not bundle_file.is_file():
        yield finding(
            "unsigned-merge-source", "signature_digest",
            f"{entry.path} was merged from {label}, which is not signed: {bundle} does not exist",
            f"a merged base comes only from a signed revision: restore {bundle}",
        )  # fmt: skip
    elif (signed := sha256_file(bundle_file)) != source.signature_digest:
        yield finding(
            "merge-source-changed", "signature_digest",
            f"{bundle} is not the bundle {entry.path} was merged from "
            f"({signed}, recorded {source.signature_digest})",
            "a signature bundle is never replaced after a merge: restore it, or merge again",
        )  # fmt: skip
    if sha256_file(registry.root / manifest) != source.manifest_digest:
        yield finding(
            "merge-source-changed", "manifest_digest",
            f"{manifest} is not the manifest {entry.path} was merged from "
            f"(recorded {source.manifest_digest})",
            "revision manifests are immutable: restore it, or merge again",
        )  # fmt: skip
    base = registry.base(source.base.name, source.base.revision)
    if base is not None and base.weights_artifact != source.base_weights:
        yield finding(
            "merge-source-changed", "base_weights",
            f"{entry.path} was merged into weights {source.base_weights}, but "
            f"{layout.base_path(source.base.name, source.base.revision)} names "
            f"{base.weights_artifact}",
            "base manifests are immutable: restore it, or merge again",
        )  # fmt: skip
