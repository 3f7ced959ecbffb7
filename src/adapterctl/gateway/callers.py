"""Who is calling: the tenant, proven by an API key the gateway holds (as a digest) or by a
header that only a trusted proxy may set, and the identity the sticky hash uses.

A client cannot name its own tenant: without a key file, a tenant header counts only when
the request's peer address is in ``trusted_proxies``; from anyone else it is ignored.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from adapterctl.configfile import load_config
from adapterctl.gateway.routing import Refusal
from adapterctl.model.gateway import GatewayTenants, TenantKeys

Headers = list[tuple[bytes, bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNAUTHORIZED = Refusal(401, "AuthenticationError", "Unauthorized: a valid API key is required.")


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str | None
    sticky: bytes | None
    """What the sticky hash places: the session, else the ``user`` field, else the key."""


@dataclass(frozen=True)
class Callers:
    """The gateway's rules for telling callers apart."""

    keys: dict[str, str] | None
    """SHA-256 hex digest of an API key → its tenant (None: no key file, keys not checked)."""
    session_header: bytes
    tenant_header: bytes | None = None
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def tenant_names(self) -> frozenset[str] | None:
        """The tenants the key file lists (None without a key file)."""
        return None if self.keys is None else frozenset(self.keys.values())

    def identify(self, headers: Headers, peer: str | None, user: object) -> Caller | Refusal:
        token = _bearer(headers)
        digest = None if token is None else hashlib.sha256(token).hexdigest()
        tenant = None
        if self.keys is not None:
            tenant = None if digest is None else self.keys.get(digest)
            if tenant is None:
                return UNAUTHORIZED
        if self.tenant_header is not None and self._trusted(peer):
            tenant = _header(headers, self.tenant_header) or tenant
        sticky = _header(headers, self.session_header)
        if sticky is None and isinstance(user, str) and user:
            sticky = "user:" + user
        key = None if digest is None else "key:" + digest
        chosen = sticky if sticky is not None else key
        return Caller(tenant, None if chosen is None else chosen.encode())

    def _trusted(self, peer: str | None) -> bool:
        if peer is None:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)


def callers(tenants: GatewayTenants, session_header: str, folder: Path) -> Callers:
    """The rules of a gateway configuration whose paths resolve against ``folder``."""
    keys = None
    if tenants.keys is not None:
        keys = key_index(load_keys(folder / tenants.keys))
    header = tenants.header
    if header is None:
        return Callers(keys, session_header.lower().encode())
    proxies = tuple(ipaddress.ip_network(n, strict=False) for n in header.trusted_proxies)
    return Callers(keys, session_header.lower().encode(), header.name.lower().encode(), proxies)


def load_keys(path: Path) -> TenantKeys:
    return load_config(path, TenantKeys, "a tenant key file", "tenants.keys")


def key_index(keys: TenantKeys) -> dict[str, str]:
    """Key digest (hex) → tenant."""
    return {
        str(digest).removeprefix("sha256:"): str(tenant)
        for tenant, digests in keys.tenants.items()
        for digest in digests
    }


def _bearer(headers: Headers) -> bytes | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() or None if scheme.lower() == b"bearer" else None
    return None


def _header(headers: Headers, wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            text = value.decode("latin-1").strip()
            return text or None
    return None
