"""Replaying against a stub node on loopback: answers are measured, and a 5xx, a timeout or
a node that is down are counted or reported as such — never a traceback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from adapterctl.cli.app import main
from adapterctl.pressure.load import LoadPlan, RoundPlan, Shot, run
from adapterctl.pressure.node import PressureError
from adapterctl.pressure.schedule import Request

TIMEOUT_S = 0.3


class StubNode(ThreadingHTTPServer):
    """Lists ``models``; streams three tokens for each, except the ``failing`` ones (HTTP 500)
    and the ``stuck`` ones (no answer until the stub stops)."""

    daemon_threads = True

    def __init__(self, models: list[str], failing: set[str], stuck: set[str]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.models, self.failing, self.stuck = models, failing, stuck
        self.release = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out hung up on a stuck answer: expected, not worth a log."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: StubNode

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "stub"}
            for m in self.server.models
        ]
        self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = body["model"]
        if model in self.server.failing:
            error = {"message": "boom", "type": "InternalServerError", "param": None, "code": 500}
            self._json(500, {"error": error})
        elif model in self.server.stuck:
            self.server.release.wait(timeout=30)
        else:
            self._stream(model)

    def _json(self, status: int, document: object) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        envelope = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
        }
        deltas = [
            {"role": "assistant", "content": ""},
            {"content": "a"},
            {"content": "b"},
            {"content": "c"},
        ]
        for delta in deltas:
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            self._event({**envelope, "choices": [choice]})
        usage = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
        self._event({**envelope, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, document: object) -> None:
        self.wfile.write(f"data: {json.dumps(document)}\n\n".encode())


@pytest.fixture
def stub() -> Iterator[StubNode]:
    node = StubNode(
        ["good", "broken", "stuck", "support-bot@1.2.0", "support-bot@1.1.0", "tiny-llama"],
        failing={"broken", "support-bot@1.2.0"},
        stuck={"stuck"},
    )
    # shutdown() waits for serve_forever's next poll: keep it short
    thread = threading.Thread(target=node.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield node
    finally:
        node.release.set()
        node.shutdown()
        node.server_close()
        thread.join(timeout=10)


def _plan(url: str) -> LoadPlan:
    return LoadPlan(base_url=url, api_key=None, concurrency=4, timeout_s=TIMEOUT_S)


def _round(*models: str) -> RoundPlan:
    shots = [
        Shot(Request(i, 0.0, "candidate", "hello there", 2, 8, i, burst=False), model, 0.0)
        for i, model in enumerate(models)
    ]
    return RoundPlan(1, "bot@2.0.0", tuple(shots))


def test_answers_are_measured_and_failures_counted(stub: StubNode) -> None:
    (round_,) = run(_plan(stub.url), [_round("good", "broken", "stuck")])
    good, broken, stuck = round_.samples
    assert (good.ok, good.output_tokens, good.model) == (True, 3, "good")
    assert good.ttft_ms is not None
    assert 0 <= good.ttft_ms <= good.latency_ms
    assert broken.error == "HTTP 500: boom"
    assert stuck.error == f"timeout after {TIMEOUT_S:g} s"
    assert (broken.output_tokens, stuck.output_tokens, stuck.ttft_ms) == (0, 0, None)
    assert round_.wall_s >= stuck.latency_ms / 1000


def test_a_model_the_node_does_not_serve_stops_the_run(stub: StubNode) -> None:
    with pytest.raises(PressureError) as error:
        run(_plan(stub.url), [_round("good", "support-bot@9.9.9")])
    assert error.value.message == (
        f"the node at {stub.url} does not serve support-bot@9.9.9 (it serves: broken, good, "
        "stuck, support-bot@1.1.0, support-bot@1.2.0, tiny-llama)"
    )


def test_a_node_that_is_down_stops_the_run() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    with pytest.raises(PressureError) as error:
        run(_plan(url), [_round("good")])
    assert error.value.message.startswith(f"cannot reach the node at {url}: ")


PROFILE = """\
# yaml-language-server: $schema=../../../schemas/pressure-profile.schema.json
name: tiny
description: A handful of requests.
seed: 3
requests: 6
arrival: {rate_per_s: 200, process: uniform}
concurrency: 3
prompt_tokens: [{tokens: 4}]
output_tokens: [{tokens: 4}]
mix: [{target: candidate, weight: 2}, {target: base}]
"""


def test_a_failing_candidate_fails_the_gate_on_its_error_rate(
    stub: StubNode, registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (registry / "environments/staging/pressure/tiny.yaml").write_text(PROFILE)
    code = main([
        "pressure", "support-bot@1.2.0", "--env", "staging", "--endpoint", stub.url,
        "--profile", "tiny", "--root", str(registry), "--format", "json",
    ])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["line"], f["path"], f["message"]) for f in errors] == [
        ("pressure/budget", 2, "$.budgets.max_error_rate",
         "error rate of support-bot@1.2.0 is 100.0% (4 of 4 requests failed), over the budget of 0.0%"),
    ]  # fmt: skip
    evidence = json.loads((registry / "reports/pressure/support-bot@1.2.0.json").read_text())
    assert evidence["ok"] is False
    failed = {(s["revision"], s["target"], s["error"]) for s in evidence["samples"] if s["error"]}
    assert failed == {("support-bot@1.2.0", "candidate", "HTTP 500: boom")}
    assert evidence["summaries"]["support-bot@1.1.0"]["candidate"]["errors"] == 0
