"""Fuzz target: the configuration files a host keeps (``configfile.load_config``): a node's
(``serving.nodeconfig.load_node``, its paths resolved), a gateway's and its tenant keys."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.configfile import load_config
from adapterctl.model.gateway import GatewayConfig, TenantKeys
from adapterctl.serving.nodeconfig import load_node
from tests.fuzz.harness import attempt, doc_blocks, write


def check(data: bytes) -> None:
    path = write("host/config.yaml", data)
    attempt(lambda: load_node(path))
    attempt(lambda: load_config(path, GatewayConfig, "a gateway configuration", "--config"))
    attempt(lambda: load_config(path, TenantKeys, "a tenant key file", "tenants.keys"))


def seeds() -> Iterator[bytes]:
    yield from doc_blocks("docs/sync.md", "docs/gateway.md")
