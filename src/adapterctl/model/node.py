"""A serving node's configuration: a YAML file on the node, never in the registry.

It says which environment the node serves, how to reach its vLLM server, where its base
model and adapter cache live, and the trust anchors a sync checks the registry against.
Trust anchors come from here, never from the repository being verified. Relative paths
resolve against the file's folder.

```yaml
name: gpu-node-a
environment: prod
endpoint: http://127.0.0.1:8000/v1
api_key_env: VLLM_API_KEY
base:
  path: /models/tiny-llama-r1
  served_name: tiny-llama
cache_dir: /var/lib/adapterctl/cache
store: s3://adapters/registry
trust:
  allowed_signers: /etc/adapterctl/allowed_signers
  github_web_flow: /etc/adapterctl/web-flow.gpg
  revocations: /etc/adapterctl/revoked-keys
  adapters: /etc/adapterctl/trust.yaml
```
"""

from __future__ import annotations

from pydantic import Field

from adapterctl.model.common import Frozen, HostPath, Name, PositiveInt, Text
from adapterctl.model.gateway import CommitTrust


class NodeBase(Frozen):
    """The base model this node holds locally and serves."""

    path: HostPath
    """Local directory of the base model (config, tokenizer, weights); its fingerprints
    must match the environment's base manifest."""
    served_name: Text | None = None
    """The id the server lists the base under in /v1/models (vLLM --served-model-name);
    default: the base manifest's name."""


class NodeTrust(CommitTrust):
    """The verifier-held anchors a sync checks commits and artifacts against."""

    adapters: HostPath | None = None
    """adapterctl trust file (docs/signing.md) for artifact signatures."""


class NodeSync(Frozen):
    """How patient a sync is with this node."""

    retries: PositiveInt = 3
    """Attempts per call (load, unload, /v1/models) before the node is reported failed."""
    backoff_s: float = Field(default=0.5, gt=0, le=60)
    """First wait between attempts; doubles each time."""
    timeout_s: float = Field(default=120, gt=0, le=3600)
    """Timeout of one call (loading an adapter can take a while)."""
    gateway_wait_s: float = Field(default=120, gt=0, le=3600)
    """How long an unload waits for the gateways to route by the synced commit and to have
    no request in flight to what it unloads; past it, the unloads wait for the next sync."""


class NodeConfig(Frozen):
    """One serving node, as its sync agent sees it."""

    name: Name
    """The node's name in reports and metrics."""
    environment: Name
    """The environment this node serves (environments/<name>/)."""
    endpoint: Text
    """Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1."""
    api_key_env: Text | None = None
    """Name of the environment variable that holds the server's API key."""
    base: NodeBase
    cache_dir: HostPath
    """Local adapter cache: verified artifacts under sha256/<digest>/, the lock, the
    last sync record."""
    store: Text | None = None
    """Artifact store URI to fetch from (default: the registry's configured store)."""
    trust: NodeTrust = Field(default_factory=NodeTrust)
    sync: NodeSync = Field(default_factory=NodeSync)
    gateways: tuple[Text, ...] = ()
    """Root URLs of the adapterctl gateways in front of this node (their names for it must
    be this node's name): a revision is unloaded only after each of them routes by the synced
    commit and has no request in flight to it here."""
