"""The reference node serving the committed example registry, in this process, on loopback.

Everything comes from the committed registry and store: the base's weights artifact and the
adapters' artifacts, loaded under their immutable served names ``<name>@<version>``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from adapterctl.registry import Registry
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from tests.conftest import REPO

EXAMPLE_REVISIONS = (
    "support-bot@1.0.0",
    "support-bot@1.1.0",
    "support-bot@1.2.0",
    "sql-helper@1.0.0",
    "sql-helper@1.1.0",
)


def stored(digest: str | None) -> Path:
    """Where the committed example store keeps an artifact."""
    assert digest is not None
    return REPO / "examples/store/sha256" / digest.removeprefix("sha256:")


def artifact(label: str) -> str:
    """The committed store's directory of the example revision ``name@version``."""
    name, version = label.split("@")
    revision = Registry.load(REPO, workers=1).revision(name, version)
    assert revision is not None
    return str(stored(revision.artifact.digest))


@contextlib.contextmanager
def serving(revisions: tuple[str, ...] = EXAMPLE_REVISIONS) -> Iterator[str]:
    """Serve tiny-llama r1 with ``revisions`` loaded; yields the root URL (without /v1)."""
    registry = Registry.load(REPO, workers=1)
    base = registry.base("tiny-llama", "r1")
    assert base is not None
    engine = Engine(
        stored(base.weights_artifact), served_model_name="tiny-llama", max_loras=len(revisions)
    )
    for label in revisions:
        name, version = label.split("@")
        revision = registry.revision(name, version)
        assert revision is not None
        engine.load_lora(label, str(stored(revision.artifact.digest)))
    with serving_app(create_app(engine)) as url:
        yield url


@contextlib.contextmanager
def serving_app(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on 127.0.0.1; yields the root URL."""
    listener = socket.create_server(("127.0.0.1", 0))  # connections queue until uvicorn runs
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # asyncio won't set it here
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
