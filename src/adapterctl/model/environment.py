"""The desired state of one environment: ``environments/<env>/environment.yaml``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from adapterctl.model.analysis import Analysis
from adapterctl.model.common import (
    BaseTarget,
    Bool,
    Duration,
    Frozen,
    Int,
    Name,
    Owner,
    Percent,
    PositiveInt,
    SemVer,
    Str,
)
from adapterctl.model.refs import BaseRef
from adapterctl.semver import names_a_base

# vLLM's accepted values for --max-lora-rank (vllm/config/lora.py, MaxLoRARanks).
MaxLoRARank = Literal[1, 8, 16, 32, 64, 128, 256, 320, 512]


class Serving(Frozen):
    """How the environment's nodes serve LoRA adapters."""

    engine: Literal["vllm"]
    max_lora_rank: MaxLoRARank
    """vLLM --max-lora-rank."""
    max_loras: PositiveInt
    """vLLM --max-loras: adapters in one GPU batch."""
    max_cpu_loras: PositiveInt | None = None
    """vLLM --max-cpu-loras: adapters cached in CPU memory (≥ max_loras)."""

    @model_validator(mode="after")
    def _cpu_cache_holds_gpu_slots(self) -> Serving:
        if self.max_cpu_loras is not None and self.max_cpu_loras < self.max_loras:
            raise ValueError(
                f"max_cpu_loras ({self.max_cpu_loras}) must be at least max_loras "
                f"({self.max_loras}), as vLLM requires"
            )
        return self


class Route(Frozen):
    """One revision behind an alias and the share of traffic it receives: an adapter
    revision of the alias's line (``version``), or a base served as a model of its own
    (``base``: a base merged from this line, canaried against the adapter it came from)."""

    version: SemVer | None = None
    """The adapter revision, ``adapters/<alias>/<version>.yaml``."""
    base: BaseTarget | None = None
    """Or a base revision, ``NAME@REVISION``, served by nodes of its own (docs/bases.md)."""
    weight: Percent
    """Percent of the alias's traffic (the weights of an alias sum to 100)."""
    tenants: tuple[Name, ...] = ()
    """Canary tenants: the gateway sends every request of these tenants to this revision,
    whatever its weight (weight 0 with tenants is a tenant-only canary)."""

    @model_validator(mode="after")
    def _version_or_base(self) -> Route:
        if (self.version is None) == (self.base is None):
            raise ValueError(
                "a route names either a version (an adapter revision, e.g. 1.1.0) or a base "
                "(a merged base served on its own, e.g. support-bot-merged@r1)"
            )
        return self

    @property
    def key(self) -> str:
        """What the route points at: the version, or ``NAME@REVISION`` of the base (a
        semantic version never holds '@', so the two never meet)."""
        return self.version if self.version is not None else str(self.base)

    @property
    def retained(self) -> bool:
        """Kept loadable for rollback: no traffic share and no tenant."""
        return self.weight == 0 and not self.tenants


def _check_routes(routes: tuple[Route, ...]) -> tuple[Route, ...]:
    keys = [route.key for route in routes]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        what = "base" if names_a_base(duplicates[0]) else "version"
        raise ValueError(f"{what} {duplicates[0]} is listed twice")
    tenants = [tenant for route in routes for tenant in route.tenants]
    twice = sorted({t for t in tenants if tenants.count(t) > 1})
    if twice:
        raise ValueError(f"tenant {twice[0]} is listed for more than one version")
    total = sum(route.weight for route in routes)
    if total != 100:
        shares = " + ".join(str(route.weight) for route in routes)
        raise ValueError(f"weights sum to {total} ({shares}), not 100")
    return routes


Routes = Annotated[tuple[Route, ...], Field(min_length=1), AfterValidator(_check_routes)]


class Promotion(Frozen):
    """What a revision needs before it may be routed here."""

    from_: Name | None = Field(default=None, alias="from")
    """The environment that must have served a revision first."""
    min_soak: Duration | None = None
    """How long it must have been served there, e.g. 24h."""
    required_approvals: Int = Field(default=1, ge=0)
    approver_teams: tuple[Owner, ...] = ()
    require_signed_commits: Bool = False
    adapter_signers: tuple[Str, ...] = ()
    """Identities (or key names) allowed to sign adapter artifacts for this environment."""


class Environment(Frozen):
    """Desired state of one environment."""

    name: Name
    description: Str | None = None
    base: BaseRef
    serving: Serving
    routes: dict[Name, Routes] = Field(default_factory=dict)
    """Alias (adapter line) → revisions and their weights."""
    retain: PositiveInt = 1
    """How many previous revisions per alias stay loadable for rollback."""
    promotion: Promotion = Field(default_factory=Promotion)
    analysis: Analysis | None = None
    """The canary analysis: judged from the gateway's per-revision metrics before a canary
    grows (promote) and on demand (canary analyze). None: no analysis."""

    @model_validator(mode="after")
    def _retained_within_retain(self) -> Environment:
        for alias, routes in self.routes.items():
            kept = [route.key for route in routes if route.retained]
            if len(kept) > self.retain:
                message = (
                    f"{len(kept)} revisions are retained at weight 0 ({', '.join(kept)}), "
                    f"more than retain: {self.retain}"
                )
                detail = InitErrorDetails(
                    type=PydanticCustomError("value_error", message),
                    loc=("routes", alias),
                    input=kept,
                )
                raise ValidationError.from_exception_data(type(self).__name__, [detail])
        return self
