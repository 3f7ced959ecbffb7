"""A registry checkout synced onto a node, and the commands the sync tests run on it.

Shared by the sync tests on the reference node (tests/test_sync.py) and on real vLLM
(tests/test_vllm_sync.py): the same checkout, node configuration and CLI calls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import pytest

from adapterctl.cli.app import main
from tests.conftest import REPO, copy_registry
from tests.syncnode import Faults, base_path

STAGING = "environments/staging/environment.yaml"


class Served(Protocol):
    """A node a test can bring back to the bare base."""

    def reset(self) -> None: ...


N = TypeVar("N", bound=Served)


class Checkout(Generic[N]):
    """A registry in a real git repository, its store outside it, a node cache and the node
    configuration of ``node-a`` (staging) pointing at ``proxy``."""

    def __init__(self, tmp_path: Path, node: N, proxy: str, faults: Faults) -> None:
        node.reset()
        self.root = copy_registry(tmp_path / "registry")
        self.store = tmp_path / "store"
        shutil.copytree(REPO / "examples/store", self.store)
        self.cache = tmp_path / "cache"
        self.node = node
        self.faults = faults
        self.config = tmp_path / "node-a.yaml"
        self.write_config(proxy)
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "Initial registry")

    def write_config(self, endpoint: str, **extra: str) -> None:
        lines = [
            "name: node-a",
            "environment: staging",
            f"endpoint: {endpoint}/v1",
            f"base: {{path: {base_path()}, served_name: tiny-llama}}",
            f"cache_dir: {self.cache}",
            f"store: {self.store.as_uri()}",
            f"trust: {{adapters: {REPO / 'examples/trust.yaml'}}}",
            # a load may take seconds on a busy CPU (vLLM's most of all): the timeout is a
            # safety net; tests/test_sync.py lowers it where a timeout is the case
            "sync: {retries: 3, backoff_s: 0.01, timeout_s: 60}",
            *(f"{key}: {value}" for key, value in extra.items()),
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def route(self, old: str, new: str, message: str) -> str:
        file = self.root / STAGING
        text = file.read_text()
        assert old in text
        file.write_text(text.replace(old, new, 1))
        self.git("commit", "-q", "-a", "-m", message)
        return self.git("rev-parse", "HEAD")

    def path(self, label: str) -> str:
        name, version = label.split("@")
        text = (self.root / "adapters" / name / f"{version}.yaml").read_text()
        digest = text.split("  digest: sha256:")[1][:64]
        return str(self.cache / "sha256" / digest)


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def sync(capsys: pytest.CaptureFixture[str], setup: Checkout[Any], *args: str) -> tuple[int, str]:
    code, out, err = cli(
        capsys, "sync", "--env", "staging", "--node-config", setup.config,
        "--root", setup.root, *args,
    )  # fmt: skip
    assert err == "", err
    return code, out


def head(setup: Checkout[Any]) -> str:
    return setup.git("rev-parse", "HEAD")[:12]


def agent(setup: Checkout[Any], *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "adapterctl", "agent", "--node-config", str(setup.config),
               "--repo", str(setup.root), *args]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def agent_once(setup: Checkout[Any], timeout_s: float = 300) -> str:
    """``adapterctl agent --once``, which must succeed: the last line it wrote."""
    process = agent(setup, "--once")
    _out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, err
    return err.splitlines()[-1]
