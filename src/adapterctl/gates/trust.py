"""The trust gate, artifact part: every revision's signature bundle, verified offline.

Revisions become :class:`~adapterctl.signing.verify.Target` s (bundle, manifest digest and
where the manifest records it); a :class:`~adapterctl.signing.verify.Verifier` built from
the verifier-held trust file checks each one. Many revisions are verified in parallel
worker processes, each of which loads the trust file once; unchanged artifact files come
from the digest cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import UsageError
from adapterctl.findings import Finding, JsonPath, Location, Report, Severity
from adapterctl.gates.schema import validate
from adapterctl.model.common import kind
from adapterctl.model.trust import TrustPolicy
from adapterctl.registry import Registry
from adapterctl.signing.signers import Policy
from adapterctl.signing.trust import Trust, build_trust
from adapterctl.signing.verify import Target, Verifier
from adapterctl.store.digests import DigestCache
from adapterctl.store.uri import open_store
from adapterctl.yamlio import YamlError, read

DIGEST_FIELD = ("artifact", "digest")
PARALLEL_THRESHOLD = 16
"""Below this many revisions, worker processes cost more than they save."""


def load_trust(path: Path, display: str | None = None) -> tuple[Trust | None, list[Finding]]:
    """The verifier's trust file, or None with findings pointing at its lines."""
    shown = display or str(path)
    try:
        data, source = read(path, shown)
    except FileNotFoundError:
        raise UsageError(f"--trust {shown}: no such file") from None
    except YamlError as exc:
        return None, [exc.finding(shown)]
    if not isinstance(data, dict):
        message = f"expected a mapping with 'signers' at the top level, got {kind(data)}"
        return None, [Finding("trust/config", Severity.ERROR, source.locate(()), message)]
    policy, findings = validate(TrustPolicy, data, source)
    if policy is None:
        return None, findings
    return build_trust(policy, path.parent, source)


@dataclass(frozen=True)
class Setup:
    """Everything a worker needs to build its own verifier (picklable)."""

    trust_file: Path
    trust_display: str
    allowed: tuple[str, ...] | None
    environment: str | None
    store_uri: str
    endpoint_url: str | None
    root: Path
    cache: Path | None
    now: datetime

    @classmethod
    def of(
        cls,
        trust: Path,
        root: Path,
        store: tuple[str, str | None],
        cache: Path | None,
        *,
        allowed: tuple[str, ...] | None = None,
        environment: str | None = None,
    ) -> Setup:
        """Verifying now against the trust file ``trust`` (named in findings as given), the
        artifacts in ``store`` (its URI and S3 endpoint)."""
        store_uri, endpoint_url = store
        return cls(trust.absolute(), str(trust), allowed, environment, store_uri,
                   endpoint_url, root, cache, now())  # fmt: skip

    def verifier(self, trust: Trust | None = None) -> Verifier:
        if trust is None:
            trust, _ = load_trust(self.trust_file, self.trust_display)
            if trust is None:  # the parent loaded it fine: the file changed since
                raise UsageError(f"{self.trust_display} changed during verification")
        store = open_store(self.store_uri, endpoint_url=self.endpoint_url, base=self.root)
        cache = DigestCache(self.cache) if self.cache is not None else None
        policy = Policy(trust, self.allowed, self.environment)
        return Verifier(policy, store, cache, self.now)


def environment_signers(registry: Registry, name: str) -> tuple[str, ...] | Finding:
    """The identities environment ``name`` allows, or a finding when it allows none."""
    env = registry.require_environment(name)
    path = layout.environment_path(name)
    if env.promotion.adapter_signers:
        return env.promotion.adapter_signers
    where = registry.locate(path, ("promotion",))
    message = f"{name} allows no adapter signer, so no revision can be verified for it"
    hint = "list the identities in promotion.adapter_signers"
    return Finding("trust/signer-not-allowed", Severity.ERROR, where, message, hint)


def targets_of(registry: Registry, revisions: Sequence[tuple[str, str]]) -> list[Target]:
    """The targets of these revisions; UsageError for one that does not exist."""
    return [_revision_target(registry, name, version) for name, version in revisions]


def base_targets_of(registry: Registry, bases: Sequence[tuple[str, str]]) -> list[Target]:
    """The targets of these bases (their stored weights); UsageError for one that does not
    exist or names no stored weights."""
    return [_base_target(registry, name, revision) for name, revision in bases]


def _revision_target(registry: Registry, name: str, version: str) -> Target:
    path = layout.revision_path(name, version)
    revision = registry.revision(name, version)
    if revision is None:
        raise _not_valid(registry, "revision", f"{name}@{version}", path)
    listed = {file: item.digest for file, item in revision.artifact.files.items()}
    where = Location(path, path=DIGEST_FIELD)  # its line: only when reported
    return _target(registry, f"{name}@{version}", layout.bundle_path(name, version),
                   revision.artifact.digest, where, listed)  # fmt: skip


def _base_target(registry: Registry, name: str, revision: str) -> Target:
    path = layout.base_path(name, revision)
    base = registry.base(name, revision)
    if base is None:
        raise _not_valid(registry, "base", f"{name}@{revision}", path)
    if base.weights_artifact is None:
        raise UsageError(f"{name}@{revision} names no weights_artifact: nothing to verify")
    where = Location(path, path=("weights_artifact",))
    return _target(registry, f"{name}@{revision}", layout.base_bundle_path(name, revision),
                   base.weights_artifact, where)  # fmt: skip


def _target(
    registry: Registry, label: str, bundle: str, digest: str, where: Location,
    listed: dict[str, str] | None = None,
) -> Target:  # fmt: skip
    """The target whose bundle is ``bundle`` (repository-relative)."""
    return Target(label=label, bundle=registry.root / bundle, bundle_file=bundle,
                  digest=digest, digest_at=where, listed=listed)  # fmt: skip


def _not_valid(registry: Registry, what: str, label: str, path: str) -> UsageError:
    """A target that does not exist, or whose manifest is invalid (then: fix it first)."""
    hint = f"fix it first (adapterctl validate {path})" if registry.exists(path) else None
    return UsageError(f"no valid {what} {label} at {path}", hint=hint)


def verify_targets(
    setup: Setup,
    trust: Trust,
    targets: Sequence[Target],
    locate: Callable[[str, JsonPath], Location],
    workers: int | None = None,
) -> tuple[Report, dict[str, str]]:
    """Verify every target (in parallel processes when there are many); ``locate`` gives
    the findings that point into manifests their line (files are parsed only for those).
    Also: ``name@version`` → the identity whose signature verified, for those that did."""
    count = min(workers or len(os.sched_getaffinity(0)), len(targets))
    if count < 2 or len(targets) < PARALLEL_THRESHOLD:
        verifier = setup.verifier(trust)
        results = [verifier.check(target) for target in targets]
    else:
        chunks = _chunks(list(targets), count * 4)
        with ProcessPoolExecutor(count, initializer=_start, initargs=(setup,)) as pool:
            results = [found for chunk in pool.map(_verify_chunk, chunks) for found in chunk]
    findings = [_located(finding, locate) for found, _ in results for finding in found]
    signed = {
        target.label: signer
        for target, (_, signer) in zip(targets, results, strict=True)
        if signer is not None
    }
    report = Report.build("verify", [target.bundle_file for target in targets], findings)
    return report, signed


def _located(finding: Finding, locate: Callable[[str, JsonPath], Location]) -> Finding:
    where = finding.location
    if where.line is not None or not where.path:
        return finding
    return replace(finding, location=locate(where.file, where.path))


def _chunks(items: list[Target], parts: int) -> list[list[Target]]:
    size = max(1, -(-len(items) // parts))
    return [items[i : i + size] for i in range(0, len(items), size)]


_worker: dict[str, Verifier] = {}


def _start(setup: Setup) -> None:
    _worker["verifier"] = setup.verifier()


def _verify_chunk(targets: list[Target]) -> list[tuple[list[Finding], str | None]]:
    verifier = _worker["verifier"]
    return [verifier.check(target) for target in targets]


def now() -> datetime:
    return datetime.now(UTC)
