"""Targets of the OpenAI contract suite: the in-process reference node, and a real vLLM.

The reference node runs in this process (uvicorn in a thread on 127.0.0.1, an ephemeral
port, started once per session) on a tiny model built with the example kit, with runtime
LoRA updating on and an API key. The ``vllm`` target is the session's real vLLM (the
``vllm_server`` fixture: installed by ``make vllm``, started once per run on loopback)
serving the example base and the committed example adapters. Set ``ADAPTERCTL_VLLM_URL``
(e.g. ``http://gpu-1:8000``) to run the same cases against another vLLM instead, started
with ``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``;
``ADAPTERCTL_VLLM_API_KEY`` is its ``--api-key`` and ``ADAPTERCTL_VLLM_LORA_DIR`` a
directory, as that server sees it, holding at least two PEFT LoRA adapters
(sub-directories) for its base model.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from openai import AsyncOpenAI, OpenAI

from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base
from examples.train import PRETRAINED_BASES, R1
from tests.conftest import _guarded_connect, _real_connect
from tests.contract.calls import fresh_name, load_adapter, unload_adapter
from tests.refnode import artifact
from tests.vllmnode import API_KEY as API_KEY_VLLM
from tests.vllmnode import MAX_LORA_RANK, VllmServer

API_KEY = "contract-test-key"
BASE_NAME = "tiny-llama"
BASE_SPEC = BaseSpec(arch="llama")
ADAPTER_SPECS = (
    AdapterSpec(rank=8, seed=101),
    AdapterSpec(rank=16, alpha=32, target_modules=("q_proj", "k_proj", "v_proj", "o_proj")),
)
VLLM_URL_ENV, VLLM_KEY_ENV, VLLM_LORA_DIR_ENV = (
    "ADAPTERCTL_VLLM_URL",
    "ADAPTERCTL_VLLM_API_KEY",
    "ADAPTERCTL_VLLM_LORA_DIR",
)


@dataclass(frozen=True)
class Target:
    """A server under test and what the cases need to know about it."""

    kind: str  # "node" (the reference node) or "vllm"
    root_url: str  # without /v1
    api_key: str | None
    base_model: str
    base_root: str | None  # the base card's expected root, when known
    adapters: tuple[str, ...]  # adapter directories as the server sees them
    missing_adapter: str  # a path the server can see, with no adapter in it
    base_spec: BaseSpec | None = None  # the kit spec of its base, when it is a kit model
    max_lora_rank: int | None = None  # its --max-lora-rank, when known

    @property
    def is_node(self) -> bool:
        """True for the reference node."""
        return self.kind == "node"

    def client(self) -> OpenAI:
        """The official sync client, no retries."""
        return OpenAI(base_url=f"{self.root_url}/v1", api_key=self.api_key or "none", max_retries=0)

    def async_client(self) -> AsyncOpenAI:
        """The official async client, no retries."""
        key = self.api_key or "none"
        return AsyncOpenAI(base_url=f"{self.root_url}/v1", api_key=key, max_retries=0)

    def http(self, *, authorized: bool = True) -> httpx2.Client:
        """A raw HTTP client (for bodies the openai client would never send)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if authorized and self.api_key else {}
        return httpx2.Client(base_url=self.root_url, headers=headers, timeout=60)

    def need_node(self, reason: str) -> None:
        """Skip a case that only the reference node can answer."""
        if not self.is_node:
            pytest.skip(f"reference node only: {reason}")

    def need_adapters(self, count: int) -> None:
        """Skip a case that needs adapter directories this target lacks."""
        if len(self.adapters) < count:
            pytest.skip(f"needs {count} adapters under ${VLLM_LORA_DIR_ENV}")


def build_models(root: Path) -> tuple[Path, list[Path]]:
    """The tiny base and two adapters for it, written with the example kit."""
    base = root / BASE_NAME
    make_base(base, BASE_SPEC)
    adapters = [root / "adapters" / f"adapter-{i}" for i in range(len(ADAPTER_SPECS))]
    for path, spec in zip(adapters, ADAPTER_SPECS, strict=True):
        make_adapter(path, BASE_SPEC, spec)
    return base, adapters


def _wait_started(server: uvicorn.Server, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the reference node did not start")
        time.sleep(0.05)


def _vllm_addresses() -> set[str]:
    """The addresses of ``$ADAPTERCTL_VLLM_URL``'s host: the only network a run may reach."""
    host = httpx2.URL(os.environ.get(VLLM_URL_ENV) or "http://127.0.0.1").host
    return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root guard (loopback only), opened to the vLLM host an operator configured."""
    allowed = _vllm_addresses() if os.environ.get(VLLM_URL_ENV) else set()

    def connect(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host in allowed:
            return _real_connect(sock, address)
        return _guarded_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def node_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The reference node on 127.0.0.1, serving the tiny kit model."""
    root = tmp_path_factory.mktemp("contract-models")
    base, adapters = build_models(root)
    engine = Engine(base, served_model_name=BASE_NAME, max_loras=2, max_lora_rank=16)
    app = create_app(engine, api_key=API_KEY, allow_runtime_lora_updating=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="reference-node", daemon=True)
    thread.start()
    _wait_started(server, 180)  # a safety net: it starts in well under a second
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Target(
        kind="node",
        root_url=f"http://127.0.0.1:{port}",
        api_key=API_KEY,
        base_model=BASE_NAME,
        base_root=str(base),
        adapters=tuple(str(path) for path in adapters),
        missing_adapter=str(root / "adapters" / "no-such-adapter"),
        base_spec=BASE_SPEC,
        max_lora_rank=16,
    )
    server.should_exit = True
    thread.join(timeout=10)


def _vllm_target() -> Target:
    url = os.environ[VLLM_URL_ENV].rstrip("/").removesuffix("/v1")
    key = os.environ.get(VLLM_KEY_ENV) or None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    cards = httpx2.get(f"{url}/v1/models", headers=headers, timeout=30).json()["data"]
    base = next(card for card in cards if card.get("parent") is None)
    lora_dir = os.environ.get(VLLM_LORA_DIR_ENV)
    adapters: tuple[str, ...] = ()
    if lora_dir:
        adapters = tuple(str(p) for p in sorted(Path(lora_dir).iterdir()) if p.is_dir())
    missing = f"{lora_dir or '/nonexistent'}/no-such-adapter"
    return Target("vllm", url, key, base["id"], None, adapters, missing)


def _local_vllm_target(server: VllmServer, root: Path) -> Target:
    """The session's vLLM: the example base, the committed support-bot 1.0.0 and 1.2.0."""
    adapters = tuple(artifact(label) for label in ("support-bot@1.0.0", "support-bot@1.2.0"))
    missing = str(root / "no-such-adapter")
    return Target(
        "vllm", server.url, API_KEY_VLLM, server.served_name, str(server.base), adapters,
        missing, PRETRAINED_BASES[R1], MAX_LORA_RANK,
    )  # fmt: skip


@pytest.fixture(scope="session", params=["node", "vllm"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    """Every contract case runs against the reference node and real vLLM."""
    if request.param == "vllm":
        if not os.environ.get(VLLM_URL_ENV):
            server: VllmServer = request.getfixturevalue("vllm_server")
            return _local_vllm_target(server, tmp_path_factory.mktemp("contract-vllm"))
        return _vllm_target()
    node: Target = request.getfixturevalue("node_target")
    return node


@pytest.fixture
def client(target: Target) -> Iterator[OpenAI]:
    """The official sync client for the target."""
    with target.client() as sync_client:
        yield sync_client


@pytest.fixture
def loaded(target: Target, client: OpenAI) -> Iterator[list[str]]:
    """Two adapters loaded at runtime under fresh names; unloaded afterwards."""
    target.need_adapters(2)
    names = [fresh_name("contract-a"), fresh_name("contract-b")]
    for name, path in zip(names, target.adapters[:2], strict=True):
        assert load_adapter(client, name, path) == (
            f"Success: LoRA adapter '{name}' added successfully."
        )
    yield names
    for name in names:
        unload_adapter(client, name)
