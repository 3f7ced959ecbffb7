"""Real vLLM on loopback: started the way a user runs it, stopped by its process group.

vLLM is installed by ``make vllm`` (scripts/install-vllm.sh) into its own environment,
``.venv-vllm``; ``ADAPTERCTL_VLLM_PYTHON`` names another interpreter that has it. Where it
is not installed the tests that need it skip with the reason, unless
``ADAPTERCTL_REQUIRE_VLLM=1`` (set by ``.ci/run``): there a missing vLLM fails the run.

The server is started with the flags DESIGN §5 measured on CPU (``VLLM_CPU_KVCACHE_SPACE=1``,
runtime LoRA updates on, rank 64, 4 GPU-side and 8 CPU-side LoRA slots, 512 tokens,
float32) and an API key, and waited for by polling ``/health`` while the process lives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO

VLLM_PYTHON_ENV = "ADAPTERCTL_VLLM_PYTHON"
REQUIRE_ENV = "ADAPTERCTL_REQUIRE_VLLM"
API_KEY = "contract-key"
MAX_LORA_RANK = 64
MAX_LORAS = 4
MAX_CPU_LORAS = 8
START_TIMEOUT_S = 600.0
"""vLLM is healthy in 25-70 s here; the deadline only ends a start that hangs."""
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
SERVER_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
"""vLLM's settings for a CPU node that loads adapters at run time and never goes online."""


def vllm_python() -> Path:
    """The interpreter that has vLLM installed."""
    configured = os.environ.get(VLLM_PYTHON_ENV)
    return Path(configured) if configured else REPO / ".venv-vllm/bin/python"


def missing_reason() -> str | None:
    """Why real vLLM cannot run here, or None when it can."""
    python = vllm_python()
    if not python.is_file():
        return f"vLLM is not installed ({python} not found): run `make vllm`"
    if not (python.parent.parent / ".installed-vllm").is_file() and not os.environ.get(
        VLLM_PYTHON_ENV
    ):
        return f"vLLM's install in {python.parent.parent} did not finish: run `make vllm`"
    return None


def require_vllm() -> None:
    """Skip (or, where CI requires vLLM, fail) when vLLM is not installed."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class VllmServer:
    """One vLLM API server process serving ``base`` as ``served_name``."""

    base: Path
    served_name: str
    log_dir: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        """The root URL (without /v1)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.log_dir / f"vllm-{self.starts}.log"

    def command(self) -> list[str]:
        return [
            str(vllm_python()), "-m", SERVER_MODULE,
            "--model", str(self.base), "--served-model-name", self.served_name,
            "--host", "127.0.0.1", "--port", str(self.port), "--api-key", API_KEY,
            "--enable-lora", "--max-lora-rank", str(MAX_LORA_RANK), "--max-loras", str(MAX_LORAS),
            "--max-cpu-loras", str(MAX_CPU_LORAS), "--max-model-len", "512",
            "--dtype", "float32",
        ]  # fmt: skip

    def start(self) -> None:
        """Start the server and return once ``/health`` answers 200."""
        self.starts += 1
        env = {**os.environ, **SERVER_ENV}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, cwd=self.log_dir,
            )  # fmt: skip
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.healthy():
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited before it was healthy:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"vLLM not healthy after {START_TIMEOUT_S:g} s:\n{self.tail()}")
            time.sleep(0.25)  # polling a readiness endpoint, not waiting out a race

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        """(status, body) of one request with the API key."""
        request = urllib.request.Request(
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def loaded(self) -> dict[str, str]:
        """LoRA name → root, as ``/v1/models`` lists them."""
        status, body = self.call("GET", "/v1/models")
        assert status == 200, body
        return {c["id"]: c["root"] for c in json.loads(body)["data"] if c["parent"] is not None}

    def reset(self) -> None:
        """Unload every LoRA adapter: a test starts from the bare base."""
        for name in self.loaded():
            status, body = self.call("POST", "/v1/unload_lora_adapter", {"lora_name": name})
            assert status == 200, body

    def kill(self) -> None:
        """SIGKILL the whole process group (the API server and its engine core)."""
        self._signal(signal.SIGKILL)

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``grace_s``."""
        self._signal(signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
        self._reap()

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            return
        if signum == signal.SIGKILL:
            self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait()
            self.process = None

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text("utf-8", "replace") if self.log.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])
