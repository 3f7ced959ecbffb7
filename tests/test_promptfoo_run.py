"""``export-promptfoo`` output run by real promptfoo (0.123.1, with the Node.js 22.22.0 it
requires, installed into ``.promptfoo`` by ``make promptfoo``) against the reference node:
with the node's key variable set and unset, promptfoo asks every case of every revision and
reaches the verdicts ``adapterctl eval`` reaches (docs/promptfoo.md, "Verified").

promptfoo is a subprocess, out of reach of conftest's socket guard: its telemetry and update
check are off, its home and config folder are in ``tmp_path``, and it reaches only the
node on loopback, through a proxy that records the key each request carries. With its
telemetry off promptfoo 0.123.1 still posts one "telemetry disabled" event to its own
server (``recordTelemetryDisabled``); ``HTTPS_PROXY`` points that at a closed loopback port,
where it fails quietly, and ``NO_PROXY`` keeps the node's requests direct.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from adapterctl.cli.app import main
from adapterctl.evals.promptfoo import TESTED_VERSION
from tests.conftest import REPO
from tests.forwarding import Forwarding, serving

FOLDER = REPO / ".promptfoo"
VERSION = TESTED_VERSION
NODE_VERSION = "22.22.0"
REQUIRE_ENV = "ADAPTERCTL_REQUIRE_PROMPTFOO"
EVAL_TIMEOUT_S = 300.0
"""Twelve answers from the reference node take 10-40 s here; the limit ends a hung run."""
REVISIONS = ("support-bot@1.2.0", "support-bot@1.1.0")
CASES = {
    "refund-window",
    "refund-status-json",
    "escalation",
    "double-charge",
    "cancel-subscription",
    "password-reset",
}
PASSED = {
    "support-bot@1.2.0": CASES - {"refund-window", "escalation"},
    "support-bot@1.1.0": CASES,
}
"""What ``adapterctl eval`` decides for the example revisions (tests/test_golden_gate.py)."""


@pytest.fixture(scope="session")
def promptfoo() -> list[str]:
    """The command that runs the pinned promptfoo on its pinned Node.js (session-scoped, so
    that a skip comes before the reference node starts)."""
    node = FOLDER / "node_modules/.bin/node"
    entry = FOLDER / "node_modules/promptfoo/dist/src/entrypoint.js"
    stamp = FOLDER / f".installed-promptfoo-{VERSION}-node-{NODE_VERSION}"
    if node.is_file() and entry.is_file() and stamp.is_file():
        return [str(node), str(entry)]
    reason = f"promptfoo {VERSION} is not installed ({FOLDER} incomplete): run `make promptfoo`"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return int(listener.getsockname()[1])


def offline_env(home: Path, api_key: str | None) -> dict[str, str]:
    """The environment promptfoo runs in: nothing of the user's, no telemetry, no updates,
    and anything but loopback sent to a closed port."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("PROMPTFOO_", "OPENAI_", "ADAPTERCTL_", "NO_PROXY"))
        and not key.upper().endswith("_PROXY")
    }
    nowhere = f"http://127.0.0.1:{closed_port()}"
    env |= {
        "HOME": str(home),
        "PROMPTFOO_CONFIG_DIR": str(home / ".promptfoo"),
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "NO_COLOR": "1",
        "HTTP_PROXY": nowhere,
        "HTTPS_PROXY": nowhere,
        "NO_PROXY": "127.0.0.1,localhost",
        "OPENAI_API_KEY": "sk-a-developers-openai-key",  # never sent: the node has its own
    }
    if api_key is not None:
        env["ADAPTERCTL_API_KEY"] = api_key
    return env


class _Recording(Forwarding):
    """Forwards to the reference node; records the Authorization header of every request."""

    seen: ClassVar[list[str | None]]

    def _handle(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        super()._handle()


@pytest.fixture
def recording(example_node: str) -> Iterator[tuple[str, list[str | None]]]:
    """A proxy in front of the reference node: its ``/v1`` URL and the headers it saw."""

    class Handler(_Recording):
        upstream = example_node.removesuffix("/v1")
        seen: ClassVar[list[str | None]] = []  # one list per test, as the class is

    with serving(Handler) as url:
        yield f"{url}/v1", Handler.seen


def export(folder: Path, endpoint: str) -> Path:
    config = folder / "promptfooconfig.yaml"
    revisions = [arg for label in REVISIONS for arg in ("--revision", label.split("@")[1])]
    code = main(
        ["export-promptfoo", "support-bot", *revisions, "--endpoint", endpoint,
         "--output", str(config), "--root", str(REPO)]
    )  # fmt: skip
    assert code == 0
    return config


def passed_by_provider(results: dict[str, object]) -> dict[str, set[str]]:
    rows = results["results"]
    assert isinstance(rows, dict)
    passed: dict[str, set[str]] = defaultdict(set)
    for row in rows["results"]:
        assert not row.get("error") or not row["success"], row
        assert "API key is not set" not in str(row.get("error")), row["error"]
        label = row["provider"]["label"]
        assert row["response"]["output"], f"{label} gave no answer: {row.get('error')}"
        if row["success"]:
            passed[label].add(row["testCase"]["metadata"]["case"])
        else:
            passed.setdefault(label, set())
    return dict(passed)


@pytest.mark.parametrize("api_key", ["a-node-key", None], ids=["key-set", "key-unset"])
def test_promptfoo_runs_the_export_with_and_without_the_key(
    promptfoo: list[str],
    recording: tuple[str, list[str | None]],
    tmp_path: Path,
    api_key: str | None,
) -> None:
    endpoint, seen = recording
    config = export(tmp_path, endpoint)
    out = tmp_path / "results.json"
    done = subprocess.run(
        [*promptfoo, "eval", "-c", str(config), "--no-cache", "--no-table", "-o", str(out)],
        cwd=tmp_path, env=offline_env(tmp_path / "home", api_key), capture_output=True,
        text=True, timeout=EVAL_TIMEOUT_S, check=False,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert "API key is not set" not in log, log
    assert "Missing ADAPTERCTL_API_KEY" not in log, log
    assert out.is_file(), log
    assert done.returncode == 100, log  # promptfoo's exit code when a test fails
    assert passed_by_provider(json.loads(out.read_text())) == PASSED
    # The node's key when set, else no Authorization header: never the OpenAI key.
    assert set(seen) == {None if api_key is None else f"Bearer {api_key}"}
    assert len(seen) == len(CASES) * len(REVISIONS)
