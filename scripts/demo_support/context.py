"""What every step shares: the transcript, the shell, the world, the nodes, the PR count."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from demo_support.engine import Engine
from demo_support.nodes import Node
from demo_support.shell import DemoFailure, Shell, starting
from demo_support.transcript import Transcript
from demo_support.world import World

ORG = "example-org"
EVAL_CONCURRENCY_VLLM = 2
"""Requests the golden gate sends at once to a vLLM CPU node (eval's default is 8)."""


@dataclass
class Demo:
    transcript: Transcript
    shell: Shell
    world: World
    signing: bool
    """ssh-keygen was found: commits and merges are signed."""
    engine: Engine
    """What serves the nodes: real vLLM, or the reference node."""
    prometheus: str | None = None
    """Prometheus' binary, where installed: prod's canaries are analysed (else they are not)."""
    nodes: dict[str, Node] = field(default_factory=dict)
    configs: dict[str, Path] = field(default_factory=dict)
    pull_requests: int = 0
    gateway_port: int = 0
    prometheus_url: str = ""
    """Prod's gateway (started in step 3; the prod node's configuration names it)."""
    keys: dict[str, str] = field(default_factory=dict)
    """Tenant → its API key at the gateway."""

    def say(self, *sentences: str) -> None:
        self.transcript.say(" ".join(sentences))

    def signed(self, text: str) -> str:
        """``text`` when this run signs commits, else nothing (the transcript never lies)."""
        return text if self.signing else ""

    def sign(self) -> list[str]:
        """``--sign`` for promote and rollback, when the demo can sign."""
        return ["--sign"] if self.signing else []

    def gpg(self) -> list[str]:
        """``-S`` for git commit and merge, when the demo can sign."""
        return ["-S"] if self.signing else []

    def eval_concurrency(self) -> list[str]:
        """``--concurrency 2`` for the golden gate on vLLM's CPU backend (see steps_train)."""
        return ["--concurrency", str(EVAL_CONCURRENCY_VLLM)] if self.engine.vllm else []

    def open_pull_request(self) -> int:
        self.pull_requests += 1
        return self.pull_requests

    def merge(self, branch: str, number: int) -> None:
        """Merge a pull request's branch into main as GitHub's merge button words it."""
        message = f"Merge pull request #{number} from {ORG}/{branch}"
        self.shell.git("merge", "-q", "--no-ff", *self.gpg(), "-m", message, branch)

    def commit(self, message: str, *paths: str) -> None:
        self.shell.git("add", *paths)
        self.shell.git("commit", "-q", *self.gpg(), "-m", message)

    def sync(self, env: str) -> None:
        self.shell.adapterctl("sync", "--env", env, "--node-config", str(self.configs[env]))

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def status(self, env: str) -> None:
        self.shell.adapterctl("status", "--env", env, "--node-config", str(self.configs[env]))

    def load_on_ci_node(self, label: str, path: Path) -> None:
        """Load a candidate into the CI node at run time (vLLM's runtime LoRA API)."""
        url = f"{self.nodes['ci'].url}/v1/load_lora_adapter"
        self.request(url, json.dumps({"lora_name": label, "lora_path": str(path)}))

    def request(self, url: str, body: str | None = None) -> str:
        """GET ``url`` (POST ``body`` as JSON) with curl, or by itself where curl is missing."""
        if shutil.which("curl"):
            header = "Content-Type: application/json"
            data = [] if body is None else ["-H", header, "-d", body]
            return self.shell.run(["curl", "-sS", "--fail-with-body", url, *data]).output
        self.say("(curl is not installed: the demo sends this request itself)")
        method = "GET" if body is None else "POST"
        self.transcript.request(f"{method} {url}" + ("" if body is None else f" {body}"))
        request = urllib.request.Request(
            url,
            data=None if body is None else body.encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                text: str = answer.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            raise DemoFailure(f"{method} {url} failed: {exc}") from exc
        self.transcript.output(text.splitlines())
        return text

    def metrics(self, node: str, prefix: str) -> None:
        """Show a node's Prometheus samples whose names start with ``prefix``."""
        url = f"{self.nodes[node].url}/metrics"
        keep = starting(prefix)
        if shutil.which("curl"):
            shown = f"curl -sS {url} | grep '^{prefix}'"
            self.shell.run(["curl", "-sS", "--fail-with-body", url], shown=shown, keep=keep)
            return
        self.say("(curl is not installed: the demo sends this request itself)")
        self.transcript.request(f"GET {url}, the lines that start with {prefix}")
        try:
            with urllib.request.urlopen(url, timeout=60) as answer:
                text: str = answer.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            raise DemoFailure(f"GET {url} failed: {exc}") from exc
        self.transcript.output(keep(text.splitlines()))
