"""A reference node with runtime LoRA updates on loopback, and a fault-injecting proxy.

The proxy forwards real HTTP to the real node and, when told, answers a load with 500,
holds it (a timeout), rewrites a card's root in ``/v1/models`` (a node that lies), or
drops connections (a node that died). Tests point node configurations at the proxy.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from adapterctl.registry import Registry
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from tests.conftest import REPO
from tests.forwarding import Forwarding, serving

BASE = "tiny-llama"


def base_path(revision: str = "r1") -> Path:
    base = Registry.load(REPO, workers=1).base(BASE, revision)
    assert base is not None
    assert base.weights_artifact is not None
    digest = str(base.weights_artifact)
    return REPO / "examples/store/sha256" / digest.removeprefix("sha256:")


@dataclass
class RuntimeNode:
    url: str
    """The root URL (without /v1)."""
    engine: Engine

    def reset(self) -> None:
        for name in list(self.engine.loras()):
            self.engine.unload_lora(name)


@contextlib.contextmanager
def runtime_node(max_loras: int = 8, revision: str = "r1") -> Iterator[RuntimeNode]:
    """A reference node on tiny-llama@``revision`` (its weights in the example store)."""
    engine = Engine(base_path(revision), served_model_name=BASE, max_loras=max_loras)
    app = create_app(engine, allow_runtime_lora_updating=True)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield RuntimeNode(f"http://127.0.0.1:{port}", engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@dataclass
class Faults:
    fail_loads: int = 0
    """Answer the next N loads with HTTP 500 (vLLM's error body)."""
    hold_loads: bool = False
    """Hold every load until ``release`` is set (the client times out)."""
    release: threading.Event = field(default_factory=threading.Event)
    load_seen: threading.Event = field(default_factory=threading.Event)
    lie_roots: dict[str, str] = field(default_factory=dict)
    """Served name → the root /v1/models claims for it."""
    dead: bool = False
    die_after_loads: int | None = None
    kill_at_load: Callable[[], None] | None = None
    """Called when the next load arrives, before it is forwarded (kills the node mid-load);
    the node is dead from then on."""
    at_load: Callable[[], None] | None = None
    """Called once when the next load arrives, before it is forwarded (the node lives on)."""
    requests: list[str] = field(default_factory=list)


class _Proxy(Forwarding):
    faults: Faults

    def _handle(self) -> None:
        faults = self.faults
        body = self._body()
        faults.requests.append(f"{self.command} {self.path}")
        if faults.dead:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.endswith("/load_lora_adapter") and self._load_fault():
            return
        status, content_type, payload = self._forward(body)
        if self.path.endswith("/v1/models") and faults.lie_roots:
            payload = self._lie(payload)
        if self.path.endswith("/load_lora_adapter") and status == 200:
            self._count_load()
        self._answer(status, content_type, payload)

    def _load_fault(self) -> bool:
        faults = self.faults
        faults.load_seen.set()
        if faults.at_load is not None:
            hook, faults.at_load = faults.at_load, None
            hook()
        if faults.kill_at_load is not None:
            faults.kill_at_load()
            faults.kill_at_load, faults.dead = None, True
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if faults.hold_loads:
            faults.release.wait(30)
            self.close_connection = True
            return True
        if faults.fail_loads > 0:
            faults.fail_loads -= 1
            error = {"error": {"message": "CUDA error: out of memory", "type": "InternalServerError",
                               "param": None, "code": 500}}  # fmt: skip
            self._answer(500, "application/json", json.dumps(error).encode())
            return True
        return False

    def _count_load(self) -> None:
        faults = self.faults
        if faults.die_after_loads is not None:
            faults.die_after_loads -= 1
            if faults.die_after_loads <= 0:
                faults.dead = True

    def _lie(self, payload: bytes) -> bytes:
        data = json.loads(payload)
        for card in data["data"]:
            if card["id"] in self.faults.lie_roots:
                card["root"] = self.faults.lie_roots[card["id"]]
        return json.dumps(data).encode()


@contextlib.contextmanager
def fault_proxy(upstream: str) -> Iterator[tuple[str, Faults]]:
    """A proxy in front of ``upstream``; yields its root URL and the faults to set."""
    faults = Faults()
    handler = type("Proxy", (_Proxy,), {"upstream": upstream, "faults": faults})
    with serving(handler) as url:
        try:
            yield url, faults
        finally:
            faults.release.set()
