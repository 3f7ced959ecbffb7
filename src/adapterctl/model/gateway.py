"""A gateway's configuration, and the tenant key file it holds: files on the gateway's
host, never in the registry (docs/gateway.md).

```yaml
name: gw-a
environment: prod
nodes:
  - {name: gpu-node-a, endpoint: http://10.0.0.11:8000/v1, api_key_env: VLLM_API_KEY}
  - {name: gpu-node-b, endpoint: http://10.0.0.12:8000/v1, api_key_env: VLLM_API_KEY}
state_dir: /var/lib/adapterctl/gateway
tenants:
  keys: /etc/adapterctl/tenant-keys.yaml
  header: {name: x-tenant, trusted_proxies: [10.0.0.0/8]}
trust:
  allowed_signers: /etc/adapterctl/allowed_signers
```
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from adapterctl.model.common import Digest, Frozen, HostPath, Name, Text


class GatewayNode(Frozen):
    """One node of the environment the gateway sends traffic to."""

    name: Name
    """The node's name in metrics and reports."""
    endpoint: Text
    """Base URL of its OpenAI-compatible API, e.g. http://10.0.0.11:8000/v1."""
    api_key_env: Text | None = None
    """Environment variable holding the node's API key (sent upstream, never to clients)."""


class TenantHeader(Frozen):
    """A header that names the tenant, counted only when a trusted proxy sent the request."""

    name: Text
    """The header, e.g. x-tenant (set by the proxy in front, which authenticated the caller)."""
    trusted_proxies: tuple[Text, ...] = Field(min_length=1)
    """Networks (CIDR) of the proxies allowed to set it; from any other peer it is ignored."""

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"'{network}' is not an IP network (e.g. 10.0.0.0/8)") from None
        return value


class GatewayTenants(Frozen):
    """How the gateway knows who is calling."""

    keys: HostPath | None = None
    """Tenant key file: tenant → SHA-256 digests of its API keys. With it, every request
    must carry a listed key."""
    header: TenantHeader | None = None


class CommitTrust(Frozen):
    """The verifier-held anchors signed environment commits are checked against."""

    allowed_signers: HostPath | None = None
    """git's SSH allowed-signers file for signed environment commits."""
    gpg_keys: tuple[HostPath, ...] = ()
    """Armored GPG public keys whose signatures on environment commits count."""
    github_web_flow: HostPath | None = None
    """GitHub's web-flow public key (https://github.com/web-flow.gpg), so that merges made
    with GitHub's merge button count as signed (docs/signed-commits.md)."""
    revocations: HostPath | None = None
    """Keys that are never accepted, whatever a commit's date: SSH public keys or key
    fingerprints one a line, or an OpenSSH key revocation list (docs/signed-commits.md)."""


class GatewayConfig(Frozen):
    """One gateway in front of the nodes of one environment."""

    name: Name
    """The gateway's name in logs."""
    environment: Name
    """The environment whose routes it serves (environments/<name>/)."""
    nodes: tuple[GatewayNode, ...] = Field(min_length=1)
    state_dir: HostPath
    """Where it keeps its clone of the registry."""
    session_header: Text = "x-session-id"
    """A header naming the conversation: requests with the same value stay on one revision."""
    tenants: GatewayTenants = Field(default_factory=GatewayTenants)
    trust: CommitTrust = Field(default_factory=CommitTrust)
    health_interval_s: float = Field(default=2.0, gt=0, le=300)
    """How often each node's /v1/models is read (what it has loaded, whether it is up)."""
    request_timeout_s: float = Field(default=600.0, gt=0, le=3600)
    """The longest one proxied request may take."""

    @model_validator(mode="after")
    def _unique_nodes(self) -> GatewayConfig:
        names = [node.name for node in self.nodes]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"node name '{twice[0]}' is listed twice")
        return self


class TenantKeys(Frozen):
    """The tenant key file: each tenant's API keys, as SHA-256 digests (never the keys)."""

    tenants: dict[Name, tuple[Digest, ...]]
    """Tenant → the digests of its keys (``printf %s "$KEY" | sha256sum``)."""

    @model_validator(mode="after")
    def _one_tenant_per_key(self) -> TenantKeys:
        owner: dict[str, str] = {}
        for tenant, digests in self.tenants.items():
            for digest in digests:
                if digest in owner and owner[digest] != tenant:
                    message = f"{digest} is listed for {owner[digest]} and for {tenant}"
                    detail = InitErrorDetails(
                        type=PydanticCustomError("value_error", message),
                        loc=("tenants", tenant),
                        input=digest,
                    )
                    raise ValidationError.from_exception_data(type(self).__name__, [detail])
                owner[digest] = tenant
        return self
