"""``adapterctl gateway`` run the way a user runs it: its own process on a loopback port,
following a registry in a real git repository, stopped by its pid."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import openai
from openai.types.chat import ChatCompletionMessageParam

from tests.conftest import copy_registry

START_TIMEOUT_S = 60.0
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Where is my refund?"}]
KEY_ENV = "ADAPTERCTL_API_KEY"
NODE_KEY = f"api_key_env: {KEY_ENV}"
STAGING = "environments/staging/environment.yaml"
STAGING_HEAD = """# yaml-language-server: $schema=../../schemas/environment.schema.json
name: staging
base: {name: tiny-llama, revision: r1}
serving: {engine: vllm, max_lora_rank: 64, max_loras: 4, max_cpu_loras: 8}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Registry:
    """A copy of the example registry in a git repository with one commit."""

    def __init__(self, root: Path) -> None:
        self.root = copy_registry(root)
        self.git("init", "-q", "-b", "main")
        self.commit("Initial registry")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=Rita", "-c", "user.email=rita@example.com", *args],
            cwd=self.root, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, message: str, *flags: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", *flags, "-m", message)
        return self.git("rev-parse", "HEAD")

    def staging_routes(
        self, routes: str, message: str = "Change staging routes", extra: str = ""
    ) -> str:
        """Commit staging with ``routes`` (YAML lines under ``routes:``) and ``extra`` lines."""
        text = f"{STAGING_HEAD}routes:\n{routes}retain: 1\n{extra}"
        (self.root / STAGING).write_text(text)
        return self.commit(message)


class Repository(Protocol):
    """A registry in a git repository: where a gateway follows it."""

    @property
    def root(self) -> Path: ...


@dataclass
class Gateway:
    """One gateway process: its configuration file and where it follows the registry."""

    directory: Path
    registry: Repository
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.directory / "gateway.yaml"

    @property
    def log(self) -> Path:
        return self.directory / "gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self, nodes: dict[str, str], *lines: str, environment: str = "staging") -> None:
        """Write the configuration: ``nodes`` maps a node's name to its /v1 URL."""
        listed = "".join(f"  - {{name: {n}, endpoint: {url}}}\n" for n, url in nodes.items())
        self.directory.mkdir(parents=True, exist_ok=True)
        polled = any(line.startswith("health_interval_s:") for line in lines)
        health = "" if polled else "health_interval_s: 0.2\n"
        head = f"name: gw-a\nenvironment: {environment}\nnodes:\n{listed}state_dir: state\n"
        self.config.write_text(head + health + "".join(f"{line}\n" for line in lines))

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "adapterctl", "gateway", "--config", str(self.config),
            "--repo", str(self.registry.root), "--port", str(self.port), "--interval", "3600",
        ]  # fmt: skip

    def start(self) -> None:
        """Start the gateway; a port another process took between the probe and the bind
        (free_port's race on a busy machine) is replaced by a fresh one, a few times."""
        for _ in range(5):
            try:
                self._start()
                return
            except RuntimeError as exc:
                if "address already in use" not in str(exc):
                    raise
                self.port = free_port()
        self._start()

    def _start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **self.env}, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.get("/health")[0] != 200:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway is not healthy:\n{self.output()}")
            time.sleep(0.05)  # polling a readiness endpoint

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(30)
        self.process = None
        return code

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.is_file() else ""

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def routes(self) -> dict[str, object]:
        status, body = self.get("/adapterctl/routes")
        assert status == 200, body
        document: dict[str, object] = json.loads(body)
        return document

    def reload(self, commit: str | None = None, timeout_s: float = 30.0) -> None:
        """SIGHUP; with ``commit``, wait until the gateway routes by it."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGHUP)
        if commit is None:
            return
        deadline = time.monotonic() + timeout_s
        while self.routes()["commit"] != commit:
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)  # polling the gateway's state

    def wait_log(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output():
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.05)  # polling the gateway's log

    def wait_routes(
        self, alias: str, version: str, nodes: list[str], timeout_s: float = 30
    ) -> None:
        """Wait until the gateway sees ``alias@version`` loaded on exactly ``nodes``."""
        deadline = time.monotonic() + timeout_s
        while self._nodes_of(alias, version) != nodes:
            assert time.monotonic() < deadline, self.routes()
            time.sleep(0.05)  # polling the gateway's state

    def _nodes_of(self, alias: str, version: str) -> list[str]:
        routes = self.routes()["routes"]
        assert isinstance(routes, dict)
        for route in routes[alias]:
            if route["version"] == version:
                return list(route["nodes"])
        raise AssertionError(f"{alias}@{version} is not routed")

    def metric(self, name: str, **labels: str) -> float:
        """The value of one series on /metrics (0 when absent)."""
        status, body = self.get("/metrics")
        assert status == 200
        for line in body.decode().splitlines():
            if line.startswith(name + "{") and all(
                f'{key}="{value}"' in line for key, value in labels.items()
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def client(gateway: Gateway, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0)


def ask(
    gateway: Gateway,
    model: str = "support-bot",
    key: str = "none",
    user: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """The revision that answered one request (vLLM names it in ``model``)."""
    with client(gateway, key) as api:
        reply = api.chat.completions.create(
            model=model, messages=ASK, max_tokens=1, user=user or openai.omit, extra_headers=headers
        )
    return reply.model


def node_entry(name: str, url: str) -> str:
    return f"  - {{name: {name}, endpoint: {url}, {NODE_KEY}}}"


def start(gateway: Gateway, nodes: dict[str, str], *lines: str) -> None:
    gateway.configure({}, *lines)
    text = gateway.config.read_text().replace(
        "nodes:\n", "nodes:\n" + "".join(node_entry(n, u) + "\n" for n, u in nodes.items())
    )
    gateway.config.write_text(text)
    gateway.start()
