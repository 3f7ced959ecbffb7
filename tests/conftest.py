"""Shared fixtures: no network beyond loopback, caches in tmp, an example registry copy."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
REGISTRY_PARTS = ("adapters", "bases", "environments", "schemas")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if self.family == socket.AF_UNIX or host in _LOOPBACK:
        return _real_connect(self, address)
    raise RuntimeError(f"tests must not reach the network (tried {address!r})")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_caches(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("ADAPTERCTL_CACHE_DIR", str(cache / "adapterctl"))
    monkeypatch.delenv("ADAPTERCTL_STORE", raising=False)


def copy_registry(target: Path, *, with_store: bool = False) -> Path:
    """A copy of this repository's example registry at ``target`` (and its store)."""
    target.mkdir(parents=True, exist_ok=True)
    for part in REGISTRY_PARTS:
        shutil.copytree(REPO / part, target / part)
    setting = 'store = "file://examples/store"\n' if with_store else ""
    (target / "pyproject.toml").write_text(f"[tool.adapterctl]\n{setting}")
    if with_store:
        shutil.copytree(REPO / "examples/store", target / "examples/store")
    return target


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    return copy_registry(tmp_path / "registry")
