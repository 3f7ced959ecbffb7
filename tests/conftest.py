"""Shared fixtures: no network beyond loopback, caches in tmp, an example registry copy."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer

from adapterctl.layout import ROOTS

if TYPE_CHECKING:
    from tests.vllmnode import VllmServer

REPO = Path(__file__).resolve().parent.parent
REGISTRY_PARTS = (*ROOTS, "schemas")
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


# --- running in parallel (pytest-xdist: `make unit` and `make test-demo` pass -n 2) ------

VLLM_GROUP = "session-vllm"
"""The xdist group of every test that uses the session's vLLM: one worker runs them all, so
one vLLM server starts per run, not one per worker."""
_SESSION_VLLM = frozenset({"vllm_server", "vllm", "example_vllm"})
LONGEST_FIRST = (
    "tests/test_demo.py::test_demo_walks_the_release_train_on_vllm",
    "tests/test_demo.py::test_demo_walks_the_release_train",
    "tests/test_demo.py::test_demo_killed_while_vllm_starts_leaves_no_process_behind",
)
"""Tests that each run for minutes: started first and on their own, so that the other
worker's tests fill the time beside them instead of after them."""


def _uses_session_vllm(item: pytest.Item) -> bool:
    if _SESSION_VLLM & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return params.get("example_endpoint") == "vllm" or params.get("target") == "vllm"


def pytest_itemcollected(item: pytest.Item) -> None:
    """Group the tests for ``--dist loadgroup`` as they are collected (xdist reads the groups
    in its own ``pytest_collection_modifyitems``): the session vLLM's on one worker, every
    other module's on one worker (its module-scoped fixtures are built once), the longest
    alone."""
    if _uses_session_vllm(item):
        item.add_marker(pytest.mark.xdist_group(VLLM_GROUP))
    elif item.nodeid not in LONGEST_FIRST:
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first."""
    rank = {nodeid: index for index, nodeid in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))


def isolate_git(monkeypatch: pytest.MonkeyPatch, who: tuple[str, str] | None = None) -> None:
    """No user or system git configuration; with ``who``, that author and committer."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    if who is not None:
        for role in ("AUTHOR", "COMMITTER"):
            monkeypatch.setenv(f"GIT_{role}_NAME", who[0])
            monkeypatch.setenv(f"GIT_{role}_EMAIL", who[1])


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


# --- an S3-compatible server (moto) on loopback, for the s3:// store -------------------

BUCKET = "adapters"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    """moto checks ``If-None-Match`` then writes; real S3 does both atomically."""
    lock = threading.Lock()

    def locked(self: Any) -> Any:
        with lock:
            return method(self)

    return locked


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.setattr(S3Response, "put_object", _serialized(S3Response.put_object))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
        server.stop()


@pytest.fixture(scope="session")
def example_node() -> Iterator[str]:
    """The reference node serving the example registry, once per session: its ``/v1`` URL.

    Inference is stateless, so the eval, pressure and example-answer tests share one node.
    """
    from tests.refnode import serving  # noqa: PLC0415 (refnode imports this module)

    with serving() as url:
        yield f"{url}/v1"


# --- real vLLM, started once per test run ------------------------------------------------


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """Real vLLM serving the example base tiny-llama r1 as ``tiny-llama`` with runtime LoRA
    updates and an API key, started once per test run (tests/vllmnode.py). Skipped where
    vLLM is not installed; a failure where ``ADAPTERCTL_REQUIRE_VLLM=1`` (CI)."""
    from tests.syncnode import BASE, base_path  # noqa: PLC0415 (syncnode imports this module)
    from tests.vllmnode import VllmServer, require_vllm  # noqa: PLC0415

    require_vllm()
    server = VllmServer(base_path(), BASE, tmp_path_factory.mktemp("vllm"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def vllm(vllm_server: VllmServer) -> VllmServer:
    """The session's vLLM, running (started again if a test stopped it), no adapter loaded."""
    if not vllm_server.running():
        vllm_server.start()
    vllm_server.reset()
    return vllm_server


@pytest.fixture
def example_vllm(vllm: VllmServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's vLLM with every example revision loaded under its served name, and
    ``ADAPTERCTL_API_KEY`` set for the commands a test runs against it: its ``/v1`` URL."""
    from tests.refnode import EXAMPLE_REVISIONS, artifact  # noqa: PLC0415
    from tests.vllmnode import API_KEY  # noqa: PLC0415

    for label in EXAMPLE_REVISIONS:
        body = {"lora_name": label, "lora_path": artifact(label)}
        status, answer = vllm.call("POST", "/v1/load_lora_adapter", body)
        assert status == 200, answer
    monkeypatch.setenv("ADAPTERCTL_API_KEY", API_KEY)
    return f"{vllm.url}/v1"


@pytest.fixture(params=["reference", "vllm"])
def example_endpoint(request: pytest.FixtureRequest) -> str:
    """The example registry served by each engine in turn: the reference node, then vLLM."""
    name = "example_node" if request.param == "reference" else "example_vllm"
    url: str = request.getfixturevalue(name)
    return url
