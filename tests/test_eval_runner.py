"""The golden runner against a stub OpenAI-compatible node on loopback.

The stub answers per model name from a table, records the order in which requests
arrive, and can be told to hold requests (until enough are in flight, or until the test
ends), to fail with 500s, or to demand a key. No outcome depends on how fast the machine
is: what a test waits for is an event, and the deadlines are safety nets.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from rich.console import Console

from adapterctl.errors import UsageError
from adapterctl.evals.results import CaseResult
from adapterctl.evals.runner import EvalError, EvalPlan, progress_reporter, run
from adapterctl.evals.templating import render
from adapterctl.model.golden import GoldenSuite

CAND, BASE = "support-bot@1.2.0", "support-bot@1.1.0"
ANSWERS = {CAND: "You can return it within 30 days.", BASE: "Please contact us."}
SAFETY_S = 30.0
"""The longest the stub holds a request: only a broken test waits this long."""


@dataclass
class Stub:
    """What the node serves and how it misbehaves; what it was asked, in arrival order."""

    url: str = ""
    models: tuple[str, ...] = (CAND, BASE)
    latency_s: dict[str, float] = field(default_factory=dict)
    hold: frozenset[str] = frozenset()
    """Models whose requests are answered only once ``release`` is set (the client gives up)."""
    release: threading.Event = field(default_factory=threading.Event)
    gather: int = 0
    """Hold every request until this many have been in flight at once (0: never)."""
    gathered: asyncio.Event = field(default_factory=asyncio.Event)
    failures: dict[str, int] = field(default_factory=dict)
    """Per model: how many of its next requests get a 500."""
    retry_after_ms: int = 1
    script: dict[str, list[tuple[int, dict[str, str], str]]] = field(default_factory=dict)
    """Per model: (status, headers, error message) to answer its next requests with, in turn."""
    malformed: dict[str, str] = field(default_factory=dict)
    """Per model: a 200 body to send instead of a completion."""
    listing: str | None = None
    """A ``/v1/models`` body to send instead of the list of ``models``."""
    key: str | None = None
    arrivals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(endpoint, request body), in arrival order."""
    arrived_at: list[float] = field(default_factory=list)
    """``time.perf_counter()`` of each arrival."""
    authorizations: list[str | None] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def answer(self, endpoint: str, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        self.arrivals.append((endpoint, body))
        self.arrived_at.append(time.perf_counter())
        model = str(body["model"])
        if self.script.get(model):
            status, headers, said = self.script[model].pop(0)
            return JSONResponse(_error(said, status), status_code=status, headers=headers)
        if self.failures.get(model, 0) > 0:
            self.failures[model] -= 1
            headers = {"retry-after-ms": str(self.retry_after_ms)}
            return JSONResponse(_error("boom", 500), status_code=500, headers=headers)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.most_in_flight >= self.gather:
            self.gathered.set()
        with contextlib.suppress(TimeoutError):  # a safety net: the assertion says what is wrong
            await asyncio.wait_for(self.gathered.wait(), SAFETY_S)
        if model in self.hold:
            await _until(self.release)
        await asyncio.sleep(self.latency_s.get(model, 0.0))
        self.in_flight -= 1
        if model in self.malformed:
            return Response(self.malformed[model], media_type="application/json")
        return JSONResponse(_completion(endpoint, model, ANSWERS[model]))


async def _until(event: threading.Event) -> None:
    """Wait for an event set by the test thread (at most ``SAFETY_S``), not blocking the loop."""
    deadline = time.monotonic() + SAFETY_S
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def _error(message: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": "Error", "param": None, "code": code}}


def _completion(endpoint: str, model: str, text: str) -> dict[str, Any]:
    if endpoint == "chat":
        message = {"role": "assistant", "content": text}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
    else:
        choice = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
    kind = "chat.completion" if endpoint == "chat" else "text_completion"
    return {"id": "x", "object": kind, "created": 0, "model": model, "choices": [choice]}


def stub_app(current: Callable[[], Stub]) -> FastAPI:
    """An OpenAI-compatible app answering as ``current()`` says (swapped between tests)."""
    app = FastAPI()

    @app.middleware("http")
    async def authorize(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        header = request.headers.get("authorization")
        current().authorizations.append(header)
        if current().key is not None and header != f"Bearer {current().key}":
            return JSONResponse(_error("Unauthorized", 401), status_code=401)
        return await call_next(request)

    @app.get("/v1/models")
    async def models() -> Response:
        if current().listing is not None:
            return Response(current().listing, media_type="application/json")
        cards = [
            {"id": m, "object": "model", "created": 0, "owned_by": "stub"} for m in current().models
        ]
        return JSONResponse({"object": "list", "data": cards})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await current().answer("chat", request)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await current().answer("completions", request)

    return app


@pytest.fixture(scope="module")
def node_server() -> Iterator[list[Stub]]:
    """One server for the module; each test gets a fresh stub (``stubs[0]``) behind it."""
    stubs = [Stub()]
    listener = socket.create_server(("127.0.0.1", 0))  # connections queue until uvicorn runs
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and this one's is
    # 0: without it, Nagle and delayed ACKs add 40 ms to every keep-alive request.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = listener.getsockname()[1]
    config = uvicorn.Config(stub_app(lambda: stubs[0]), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    stubs[0].url = f"http://127.0.0.1:{port}/v1"
    yield stubs
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture
def stub(node_server: list[Stub]) -> Iterator[Stub]:
    node_server[0] = Stub(url=node_server[0].url)
    yield node_server[0]
    node_server[0].release.set()


SUITE = GoldenSuite.model_validate(
    {
        "suite": "refunds",
        "description": "Refund questions.",
        "vars": {"store": "EU store", "item": "order"},
        "cases": [
            {
                "id": "window",
                "messages": [
                    {"role": "system", "content": "You are the agent of the {{store}}."},
                    {"role": "user", "content": "How long can I return my {{ item }}? {{unknown}}"},
                ],
                "vars": {"item": "shoes"},
                "assert": [{"type": "icontains", "value": "30 days"}],
            },
            {
                "id": "legacy",
                "prompt": "Q: return policy of the {{store}}?\nA:",
                "assert": [{"type": "icontains", "value": "30 days"}],
                "max_tokens": 12,
            },
        ],
    }
)


def _plan(url: str, **changes: Any) -> EvalPlan:
    fields: dict[str, Any] = {
        "base_url": url,
        "api_key": None,
        "suites": (SUITE,),
        "revisions": (CAND, BASE),
        "repeats": 2,
        "concurrency": 4,
        "timeout_s": 60.0,  # a safety net: no request here waits for a timeout
        "root": Path(),
    }
    return EvalPlan(**(fields | changes))


def _key(result: CaseResult) -> tuple[str, str, int, bool]:
    return result.case, result.revision, result.repeat, result.passed


def test_every_case_of_every_revision_in_every_repeat(stub: Stub) -> None:
    seen: list[CaseResult] = []
    results = run(_plan(stub.url, repeats=3), seen.append)
    assert [_key(r) for r in results] == [
        (case, revision, repeat, revision == CAND)
        for case in ("window", "legacy")
        for revision in (CAND, BASE)
        for repeat in range(3)
    ]
    assert sorted(seen, key=_key) == sorted(results, key=_key)
    first = results[0]
    assert first.suite == "refunds"
    assert (first.answer.text, first.answer.finish_reason, first.answer.error) == (
        ANSWERS[CAND],
        "stop",
        None,
    )
    assert first.answer.latency_ms > 0
    assert (first.score, first.assertions[0].type) == (1.0, "icontains")
    assert results[6].answer.finish_reason == "length"  # the prompt case, completions API
    assert stub.authorizations[0] == "Bearer EMPTY"  # never the user's OPENAI_API_KEY


def test_candidate_and_baseline_requests_alternate(stub: Stub) -> None:
    run(_plan(stub.url, concurrency=1))
    order = [(body["model"], endpoint) for endpoint, body in stub.arrivals]
    assert (
        order
        == [
            (CAND, "chat"),
            (BASE, "chat"),
            (CAND, "completions"),
            (BASE, "completions"),
        ]
        * 2
    )


def test_prompt_and_chat_cases_use_their_endpoints(stub: Stub) -> None:
    # one in flight: the order of arrival is the order of dispatch (with more, it is a race)
    changes: dict[str, Any] = {"default_max_tokens": 33, "temperature": 0.0, "concurrency": 1}
    run(_plan(stub.url, repeats=1, revisions=(CAND,), **changes))
    (chat_endpoint, chat), (prompt_endpoint, prompt) = stub.arrivals
    assert (chat_endpoint, prompt_endpoint) == ("chat", "completions")
    assert chat["messages"] == [
        {"role": "system", "content": "You are the agent of the EU store."},
        {"role": "user", "content": "How long can I return my shoes? {{unknown}}"},
    ]
    assert (chat["max_tokens"], chat["temperature"], "seed" in chat) == (33, 0.0, False)
    assert prompt["prompt"] == "Q: return policy of the EU store?\nA:"
    assert prompt["max_tokens"] == 12


def test_a_seed_varies_with_the_repeat_not_the_revision(stub: Stub) -> None:
    run(_plan(stub.url, seed=7, concurrency=1))
    assert [body["seed"] for _, body in stub.arrivals] == [7, 7, 7, 7, 8, 8, 8, 8]


def test_extra_body_reaches_the_node_but_cannot_override_the_plan(stub: Stub) -> None:
    extra = {"top_k": 1, "repetition_penalty": 1.1, "model": "other", "max_tokens": 999}
    run(_plan(stub.url, repeats=1, concurrency=1, extra_body=extra))  # the candidate's first
    window = next(body for endpoint, body in stub.arrivals if endpoint == "chat")
    legacy = next(body for endpoint, body in stub.arrivals if endpoint == "completions")
    assert (window["top_k"], window["repetition_penalty"]) == (1, 1.1)
    assert (window["model"], window["max_tokens"], legacy["max_tokens"]) == (CAND, 64, 12)
    assert "seed" not in window


def test_concurrency_is_bounded(stub: Stub) -> None:
    stub.gather = 3  # the first requests wait for each other, however slowly they come
    stub.latency_s = {CAND: 0.05, BASE: 0.05}
    run(_plan(stub.url, repeats=3, concurrency=3))
    assert stub.most_in_flight == 3


def test_render_substitutes_known_names_only() -> None:
    assert render("{{a}}-{{ b }}-{{c}}", {"a": "1", "b": "2"}) == "1-2-{{c}}"


def test_a_500_is_retried_and_latency_is_the_answering_attempts(stub: Stub) -> None:
    stub.failures = {CAND: 1}
    stub.retry_after_ms = 300
    finished: list[float] = []
    results = run(
        _plan(stub.url, repeats=1, concurrency=1), lambda _: finished.append(time.perf_counter())
    )
    assert [r.passed for r in results if r.revision == CAND] == [True, True]
    assert [body["model"] for _, body in stub.arrivals].count(CAND) == 3
    # The answering attempt started at least 300 ms after the 500 arrived and ended before
    # its result was reported: a bound that holds however slow the machine is, and that a
    # latency counted from the first attempt (which includes the 300 ms) exceeds.
    refused, reported = stub.arrived_at[0], finished[0]
    assert results[0].answer.latency_ms <= (reported - refused) * 1000 - stub.retry_after_ms


def test_a_persistent_500_fails_the_case(stub: Stub) -> None:
    stub.failures = {BASE: 99}
    results = run(_plan(stub.url, repeats=1, revisions=(BASE,), retries=2))
    assert len(stub.arrivals) == 6  # 2 cases × (1 try + 2 retries)
    for result in results:
        assert result.answer.error is not None
        assert result.answer.error.startswith("InternalServerError: Error code: 500")
        assert (result.answer.text, result.passed, result.score) == ("", False, 0.0)


def test_a_timeout_fails_the_case(stub: Stub) -> None:
    stub.hold = frozenset({BASE})  # no answer until the test ends: the 2 s timeout must fire
    results = run(_plan(stub.url, repeats=1, timeout_s=2.0, retries=0))
    assert [(r.revision, r.passed) for r in results] == [
        (CAND, True),
        (BASE, False),
        (CAND, True),
        (BASE, False),
    ]
    assert results[1].answer.error == "APITimeoutError: Request timed out."
    assert results[1].answer.latency_ms >= 2000


def test_a_429_is_retried_after_the_wait_the_node_asks_for(stub: Stub) -> None:
    stub.script = {CAND: [(429, {"retry-after": "1"}, "Rate limit reached")]}
    results = run(_plan(stub.url, repeats=1, revisions=(CAND,), concurrency=1))
    assert [(r.passed, r.answer.error) for r in results] == [(True, None), (True, None)]
    assert len(stub.arrivals) == 3  # the 429, its retry, the other case
    # without the header the first retry would wait at most 0.5 s
    assert stub.arrived_at[1] - stub.arrived_at[0] > 0.9


def test_a_500_the_node_says_not_to_retry_is_not_retried(stub: Stub) -> None:
    stub.script = {BASE: [(500, {"x-should-retry": "false"}, "boom")]}
    results = run(_plan(stub.url, repeats=1, revisions=(BASE,), concurrency=1, retries=2))
    assert len(stub.arrivals) == 2  # one try per case
    assert [r.answer.error for r in results] == [
        "InternalServerError: Error code: 500 - boom",
        None,
    ]


def test_a_404_is_not_retried_and_named_as_the_sdk_names_it(stub: Stub) -> None:
    said = f"The model `{CAND}` does not exist."
    stub.script = {CAND: [(404, {}, said)]}
    results = run(_plan(stub.url, repeats=1, revisions=(CAND,), concurrency=1, retries=2))
    assert len(stub.arrivals) == 2
    assert [(r.passed, r.answer.error) for r in results] == [
        (False, f"NotFoundError: Error code: 404 - {said}"),
        (True, None),
    ]


@pytest.mark.parametrize(("key", "sent"), [(None, "Bearer EMPTY"), ("secret", "Bearer secret")])
def test_every_request_carries_the_plans_key(
    stub: Stub, monkeypatch: pytest.MonkeyPatch, key: str | None, sent: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-developers-own")  # never sent
    run(_plan(stub.url, repeats=1, api_key=key))
    assert stub.authorizations == [sent] * 5  # /v1/models, then 2 cases × 2 revisions


@dataclass
class DroppingNode:
    """Lists the models on ``/v1/models``, then closes every connection it is sent a POST
    on, once the request is read and before answering it."""

    url: str
    posts: list[str] = field(default_factory=list)
    """The paths POSTed to, in arrival order."""

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listing = json.dumps({"object": "list", "data": [{"id": CAND}]}).encode()
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = re.search(r"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                method, path, _ = head.split(" ", 2)
                if method == "POST":
                    self.posts.append(path)
                    break
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
                writer.write(b"content-length: %d\r\n\r\n%s" % (len(listing), listing))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
def dropping_node() -> Iterator[DroppingNode]:
    listener = socket.create_server(("127.0.0.1", 0))
    node = DroppingNode(f"http://127.0.0.1:{listener.getsockname()[1]}/v1")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    serving = asyncio.start_server(node.connection, sock=listener)
    server = asyncio.run_coroutine_threadsafe(serving, loop).result(SAFETY_S)
    yield node

    async def close() -> None:
        server.close()
        await server.wait_closed()

    asyncio.run_coroutine_threadsafe(close(), loop).result(SAFETY_S)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(SAFETY_S)
    loop.close()


def test_a_dropped_connection_is_retried_then_fails_the_case(dropping_node: DroppingNode) -> None:
    results = run(_plan(dropping_node.url, repeats=1, revisions=(CAND,), retries=1))
    assert sorted(dropping_node.posts) == ["/v1/chat/completions"] * 2 + ["/v1/completions"] * 2
    for result in results:
        assert (result.passed, result.answer.error) == (
            False,
            "APIConnectionError: Connection error.",
        )
        assert result.answer.latency_ms >= 375  # until giving up: the back-off (0.5 s less 25 %)


@pytest.mark.parametrize(
    "listing", ["<html>busy</html>", '{"data": 5}', '{"data": [{"object": "model"}]}', "[]"]
)
def test_a_node_that_does_not_list_models_like_openai(stub: Stub, listing: str) -> None:
    stub.listing = listing
    with pytest.raises(EvalError) as caught:
        run(_plan(stub.url))
    assert caught.value.message == (
        f"the node at {stub.url} does not answer like an OpenAI server:"
        " its /models answer is not a list of models"
    )
    assert stub.arrivals == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"choices": []}', "NoChoiceError: the node answered without a choice"),
        ("<html>busy</html>", "NoChoiceError: the node answered with a body that is not JSON"),
        (
            '{"choices": [{"message": {"content": 42}}]}',
            "NoChoiceError: the node answered with content that is not text",
        ),
    ],
)
def test_a_malformed_answer_fails_the_case(stub: Stub, body: str, error: str) -> None:
    stub.malformed = {BASE: body}
    results = run(_plan(stub.url, repeats=1))
    assert [(r.revision, r.passed, r.answer.error) for r in results] == [
        (CAND, True, None),
        (BASE, False, error),
        (CAND, True, None),
        (BASE, False, error),
    ]


def test_a_node_that_is_down() -> None:
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        with pytest.raises(EvalError) as caught:
            run(_plan(url, retries=0))
    assert caught.value.message == f"cannot reach the node at {url}: connection refused"
    assert (
        caught.value.hint
        == "is it running? --endpoint takes the base URL, e.g. http://host:8000/v1"
    )


def test_a_revision_the_node_does_not_serve(stub: Stub) -> None:
    stub.models = (BASE, "tiny-llama")
    with pytest.raises(EvalError) as caught:
        run(_plan(stub.url, revisions=(CAND, BASE, "support-bot@9.9.9")))
    assert caught.value.message == (
        f"the node at {stub.url} does not serve {CAND}, support-bot@9.9.9"
        f" (it serves: {BASE}, tiny-llama)"
    )
    assert stub.arrivals == []


def test_a_refused_key(stub: Stub) -> None:
    stub.key = "secret"
    with pytest.raises(EvalError) as caught:
        run(_plan(stub.url, api_key="wrong"))
    assert caught.value.message.startswith(
        f"the node at {stub.url} refused to list its models: Error code: 401"
    )
    assert caught.value.hint == "check --api-key (or ADAPTERCTL_API_KEY)"
    assert len(run(_plan(stub.url, api_key="secret"))) == 8


@pytest.mark.parametrize(
    "change",
    [
        {"repeats": 0},
        {"concurrency": 0},
        {"retries": -1},
        {"revisions": ()},
        {"revisions": (CAND, CAND)},
    ],
)
def test_a_plan_that_cannot_run(change: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        _plan("http://127.0.0.1:1/v1", **change)


def test_progress_counts_results_and_failures(stub: Stub) -> None:
    terminal = io.StringIO()
    plan = _plan(stub.url, repeats=3)
    with progress_reporter(
        plan, Console(file=terminal, force_terminal=True, width=100)
    ) as progress:
        run(plan, progress)
    assert "12/12" in terminal.getvalue()
    assert "6 failed" in terminal.getvalue()
    quiet = io.StringIO()
    with progress_reporter(plan, Console(file=quiet)) as progress:
        run(plan, progress)
    assert quiet.getvalue() == ""
