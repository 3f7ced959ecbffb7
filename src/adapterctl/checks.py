"""The ``check`` pipeline: integrity and compat gates for adapter revisions, and the gate
of merged bases."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from adapterctl import layout
from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Finding, JsonPath, Location, Report, Severity
from adapterctl.gates import compat, fingerprints, integrity, merged
from adapterctl.gates.compat import AdapterFacts
from adapterctl.inspect.peft import MAX_CONFIG_BYTES, parse_peft_config
from adapterctl.inspect.safetensors import read_header
from adapterctl.model import AdapterRevision, Environment
from adapterctl.model.kinds import Kind
from adapterctl.registry import Registry
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"


def check_revisions(
    registry: Registry,
    store: Store,
    targets: Sequence[tuple[str, str]],
    environments: Sequence[str] = (),
    cache: DigestCache | None = None,
    bases: Sequence[tuple[str, str]] = (),
) -> Report:
    """Integrity and compat of each ``(name, version)`` against the chosen environments,
    and the merged-base gate of each ``(name, revision)`` in ``bases``."""
    findings: list[Finding] = []
    for name, version in targets:
        findings += _check_one(registry, store, name, version, environments, cache)
    for name, revision in bases:
        findings += _check_base(registry, store, name, revision, cache)
    checked = [layout.revision_path(name, version) for name, version in targets]
    checked += [layout.base_path(name, revision) for name, revision in bases]
    return Report.build("check", checked, findings)


def _check_base(
    registry: Registry, store: Store, name: str, revision: str, cache: DigestCache | None
) -> list[Finding]:
    path = layout.base_path(name, revision)
    base = registry.base(name, revision)
    if base is None:
        return _unusable(registry, path, f"{name}@{revision}")
    if base.merge is None:
        message = f"{name}@{revision} is no merged base: its gates are validate's"
        return [Finding("merge/not-merged", Severity.INFO, registry.locate(path, ()), message)]

    def locate(json_path: JsonPath) -> Location:
        return registry.locate(path, json_path)

    return merged.check_merged(registry, store, base, locate, cache)


def _check_one(
    registry: Registry,
    store: Store,
    name: str,
    version: str,
    environments: Sequence[str],
    cache: DigestCache | None,
) -> list[Finding]:
    path = layout.revision_path(name, version)
    revision = registry.revision(name, version)
    if revision is None:
        return _unusable(registry, path, f"{name}@{version}")

    def locate(json_path: JsonPath) -> Location:
        return registry.locate(path, json_path)

    findings = integrity.check_stored(revision, store, locate, cache)
    if any(f.severity is Severity.ERROR for f in findings):
        return findings
    own = registry.base(revision.base.name, revision.base.revision)
    if own is None:
        target = layout.base_path(revision.base.name, revision.base.revision)
        message = f"base manifest {target} does not exist"
        return [*findings, Finding("compat/base", Severity.ERROR, locate(("base",)), message)]
    try:
        facts = read_facts(store, revision)
    except InputError as exc:
        where = locate(("artifact", "files"))
        return [*findings, Finding("compat/unreadable", Severity.ERROR, where, exc.message)]
    findings += compat.check_adapter(revision, facts, own, locate)
    for env in _environments(registry, revision, environments):
        served = registry.base(env.base.name, env.base.revision)
        if served is not None:
            pair = (own, served)
            findings += fingerprints.check_environment(revision, env, pair, store, locate)
    return findings


def _unusable(registry: Registry, path: str, label: str) -> list[Finding]:
    if not registry.exists(path):
        raise UsageError(f"no revision {label}: {path} does not exist")
    own = [f for f in registry.findings if f.location.file == path]
    message = f"{label} is not a valid manifest; fix it first (adapterctl validate {path})"
    return own or [Finding("schema/invalid-value", Severity.ERROR, Location(path), message)]


def _environments(
    registry: Registry, revision: AdapterRevision, names: Sequence[str]
) -> Iterator[Environment]:
    """The named environments, or by default every environment serving the revision's base."""
    if names:
        for name in names:
            yield registry.require_environment(name)
        return
    for entry in registry.of_kind(Kind.ENVIRONMENT):
        env = registry.environment(entry.placement.name)
        if env is not None and env.base == revision.base:
            yield env


def read_facts(store: Store, revision: AdapterRevision) -> AdapterFacts:
    """The PEFT config and the weights' safetensors header, read from the store."""
    digest = revision.artifact.digest
    shown = f"{store.uri}/sha256/{digest.removeprefix('sha256:')[:12]}…"
    with store.open(digest, CONFIG) as handle:
        config = parse_peft_config(handle.read(MAX_CONFIG_BYTES + 1), f"{shown}/{CONFIG}")
    size = store.files(digest)[WEIGHTS]

    def read(start: int, length: int) -> bytes:
        return store.read_range(digest, WEIGHTS, start, length)

    return AdapterFacts(config=config, header=read_header(read, size, f"{shown}/{WEIGHTS}"))
