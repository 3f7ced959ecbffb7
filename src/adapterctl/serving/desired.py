"""The desired state of one environment at one commit, read from git (never a work tree).

Every revision an environment routes (weight 0 included: retained revisions stay
loadable) is resolved to its manifest at the same commit, so a sync, ``status`` and every
render target act on exactly what was merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import git
from pydantic import BaseModel

from adapterctl import layout
from adapterctl.errors import AdapterctlError, InputError, UsageError
from adapterctl.findings import Severity
from adapterctl.gates.schema import validate
from adapterctl.gitrepo import RegistryRepo
from adapterctl.model import AdapterRevision, BaseManifest, Environment
from adapterctl.yamlio import Source, decode, load

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class DesiredRevision:
    """One revision an environment routes, with the manifest it was merged with."""

    alias: str
    version: str
    weight: int
    """Percent of the alias's traffic; 0 without tenants means retained (kept loadable)."""
    manifest: AdapterRevision
    tenants: tuple[str, ...] = ()
    """Canary tenants the gateway sends to this revision whatever its weight."""

    @property
    def routed(self) -> bool:
        """Receives traffic (a weight, or tenants): it must be loaded, not only cached."""
        return self.weight > 0 or bool(self.tenants)

    @property
    def served_name(self) -> str:
        """The immutable name it is loaded under on a node: ``<alias>@<version>``."""
        return layout.served_name(self.alias, self.version)

    @property
    def digest(self) -> str:
        return str(self.manifest.artifact.digest)


@dataclass(frozen=True, slots=True)
class DesiredBase:
    """A base an environment routes an alias to, served as a model of its own by nodes of
    its own (a merged base canaried against the adapter it came from): nothing a sync of
    the environment's adapter nodes loads."""

    alias: str
    served_name: str
    """``NAME@REVISION``: the route's key, and the model id its nodes serve it under."""
    weight: int
    manifest: BaseManifest
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What ``environments/<env>/environment.yaml`` asks for at ``commit``."""

    env: str
    commit: str
    environment: Environment
    base: BaseManifest
    revisions: tuple[DesiredRevision, ...]
    bases: tuple[DesiredBase, ...] = ()
    """The routes to bases served as models of their own."""

    @property
    def base_name(self) -> str:
        """The base's served model name on a node: the base manifest's name."""
        return str(self.base.name)

    def routes(self, alias: str) -> tuple[DesiredRevision, ...]:
        return tuple(r for r in self.revisions if r.alias == alias)

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.alias for r in self.revisions))


def desired_state(root: Path, env: str, ref: str = "HEAD") -> DesiredState:
    """The environment ``env`` as committed at ``ref``, with every routed manifest."""
    registry = RegistryRepo.open(root, "--ref")
    registry.check_ref(ref, "--ref")
    commit = registry.repo.commit(ref).hexsha
    path = layout.environment_path(env)
    environment = _model(registry, commit, path, Environment, missing=_unknown_env(env, ref))
    base_path = layout.base_path(environment.base.name, environment.base.revision)
    base = _model(registry, commit, base_path, BaseManifest)
    revisions: list[DesiredRevision] = []
    bases: list[DesiredBase] = []
    for alias, routes in environment.routes.items():
        for route in routes:
            tenants = tuple(route.tenants)
            if route.version is None:
                name, _, revision = route.key.partition("@")
                merged = _model(registry, commit, layout.base_path(name, revision), BaseManifest)
                bases.append(DesiredBase(alias, route.key, route.weight, merged, tenants))
                continue
            path = layout.revision_path(alias, route.version)
            manifest = _model(registry, commit, path, AdapterRevision)
            revisions.append(DesiredRevision(alias, route.version, route.weight, manifest, tenants))
    return DesiredState(env, commit, environment, base, tuple(revisions), tuple(bases))


def _unknown_env(env: str, ref: str) -> UsageError:
    return UsageError(
        f"unknown environment '{env}': {layout.environment_path(env)} does not exist at {ref}"
    )


def _model(
    registry: RegistryRepo,
    commit: str,
    path: str,
    kind: type[M],
    missing: AdapterctlError | None = None,
) -> M:
    where = f"{path} at commit {commit[:12]}"
    try:
        text = registry.show(commit, path)
    except git.GitCommandError:
        raise missing or InputError(f"{where} does not exist") from None
    try:
        value, node = load(decode(text.encode()))
    except AdapterctlError as exc:
        raise InputError(f"{where}: {exc.message}") from None
    model, findings = validate(kind, value, Source(path, node))
    if model is None:
        first = next(f for f in findings if f.severity is Severity.ERROR)
        message = f"{first.location} at commit {commit[:12]} is not valid: {first.message}"
        raise InputError(message, hint=f"run adapterctl validate {path}")
    return model
