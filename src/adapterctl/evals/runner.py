"""Running golden suites against a serving node: every case × revision × repeat.

One HTTP client for the node (:mod:`adapterctl.evals.client`) and a bounded pool of workers.
The revisions are interleaved: for each repeat and case, the candidate's request is
dispatched right next to the baseline's, so drift on the node (load, thermal throttling, a
neighbour's burst) affects both alike.
The node is checked first (``/v1/models`` must list every revision); after that a failed
request (past the client's bounded retries) becomes an :class:`Answer` with an error, which
fails the case — it never passes.

Requests go out through aiohttp directly (one session, as vLLM's own serving benchmark
does), not the openai SDK: even its generic ``post`` on its aiohttp transport built request
options, deep-copied them and built httpx2 header and URL models before aiohttp did the
work, and at 32 requests in flight that CPU was the wait. ``bench/eval.py`` (500 cases, a
stub answering in 50 ms, 32 in flight, two cores, six runs each): 1.29–1.55× the ideal and
0.73–1.12 ms of runner CPU per request through the SDK; 1.11–1.17× (1.29× once, at load 7)
and 0.20–0.32 ms through aiohttp. The client (:mod:`adapterctl.evals.client`) keeps the
SDK's retry policy and error words.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from adapterctl.errors import UsageError
from adapterctl.evals.assertions import case_outcome, evaluate
from adapterctl.evals.client import NodeClient, Reply, RequestError
from adapterctl.evals.results import Answer, CaseResult
from adapterctl.evals.templating import render
from adapterctl.model.golden import Case, GoldenSuite, Message
from adapterctl.nodeclient import NodeError
from adapterctl.report.progress import counting_bar

OnResult = Callable[[CaseResult], None]
"""Called once per finished result, in completion order (e.g. to advance a progress bar)."""


class EvalError(NodeError):
    """The evaluation cannot start: the node is unreachable or does not serve a revision."""


class NoChoiceError(Exception):
    """The node answered with an empty ``choices`` list."""


@dataclass(frozen=True, kw_only=True)
class EvalPlan:
    """What to ask, of which node, how often."""

    base_url: str
    """The node's OpenAI-compatible base URL, e.g. ``http://node:8000/v1``."""
    api_key: str | None
    suites: tuple[GoldenSuite, ...]
    revisions: tuple[str, ...]
    """Served model names, candidate first: ``("support-bot@1.2.0", "support-bot@1.1.0")``."""
    repeats: int = 3
    concurrency: int = 8
    """Requests in flight at once."""
    timeout_s: float = 60
    """Per request attempt."""
    retries: int = 2
    """Retries of a request after a timeout, a connection error, 408/409/429 or a 5xx."""
    temperature: float = 0.0
    default_max_tokens: int = 64
    """For cases without ``max_tokens``."""
    seed: int | None = None
    """None: no seed is sent. Otherwise repeat r sends ``seed + r`` for every revision."""
    extra_body: Mapping[str, object] = dataclasses.field(default_factory=dict)
    """Server-specific request fields (vLLM's ``top_k``, ``repetition_penalty``...), sent
    with every request; the fields the plan sets itself cannot be overridden."""
    root: Path
    """The registry root, against which ``python`` assertions are resolved."""

    def __post_init__(self) -> None:
        if not self.revisions:
            raise UsageError("an evaluation needs at least one revision")
        if len(set(self.revisions)) != len(self.revisions):
            raise UsageError(f"a revision is named twice: {', '.join(self.revisions)}")
        if self.repeats < 1 or self.concurrency < 1 or self.retries < 0:
            raise UsageError("repeats and concurrency must be at least 1, retries at least 0")

    @property
    def total(self) -> int:
        """How many results the plan produces: cases × revisions × repeats."""
        cases = sum(len(suite.cases) for suite in self.suites)
        return cases * len(self.revisions) * self.repeats


@dataclass(frozen=True, slots=True)
class Job:
    """One request: a case asked of one revision in one repeat."""

    suite: GoldenSuite
    case: Case
    revision: str
    repeat: int
    order: tuple[int, int, int, int]
    """Sort key of the result: suite, case, revision (plan order), repeat."""


def schedule(plan: EvalPlan) -> list[Job]:
    """The dispatch order: repeat by repeat, case by case, the revisions side by side."""
    return [
        Job(suite, case, revision, repeat, (s, c, v, repeat))
        for repeat in range(plan.repeats)
        for s, suite in enumerate(plan.suites)
        for c, case in enumerate(suite.cases)
        for v, revision in enumerate(plan.revisions)
    ]


def run(plan: EvalPlan, progress: OnResult | None = None) -> list[CaseResult]:
    """:func:`run_plan`, for synchronous callers (it runs its own event loop)."""
    return asyncio.run(run_plan(plan, progress))


async def run_plan(plan: EvalPlan, progress: OnResult | None = None) -> list[CaseResult]:
    """Ask every case of every suite of every revision ``plan.repeats`` times, and judge.

    Raises :class:`EvalError` when the node cannot be reached or lacks a revision; once it
    has answered, nothing else raises for a request. Results are sorted by suite and case
    (plan and file order), revision (plan order) and repeat.
    """
    async with NodeClient(
        plan.base_url,
        api_key=plan.api_key,
        concurrency=plan.concurrency,
        timeout_s=plan.timeout_s,
        retries=plan.retries,
    ) as client:
        await client.check(plan.revisions, error=EvalError)
        jobs = schedule(plan)
        pending = iter(jobs)
        done: list[tuple[tuple[int, int, int, int], CaseResult]] = []

        async def worker() -> None:
            for job in pending:  # shared: each job is taken by exactly one worker
                result = await judge(client, plan, job)
                done.append((job.order, result))
                if progress is not None:
                    progress(result)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(plan.concurrency, len(jobs))):
                group.create_task(worker())
    return [result for _, result in sorted(done, key=lambda item: item[0])]


async def judge(client: NodeClient, plan: EvalPlan, job: Job) -> CaseResult:
    """Ask ``job``'s question and check the answer against the case's assertions."""
    answer = await ask(client, plan, job)
    assertions = evaluate(job.case, answer, root=plan.root)
    score, passed = case_outcome(job.case, assertions)
    return CaseResult(
        suite=job.suite.suite,
        case=job.case.id,
        revision=job.revision,
        repeat=job.repeat,
        answer=answer,
        assertions=assertions,
        score=score,
        passed=passed and answer.error is None,
    )


async def ask(client: NodeClient, plan: EvalPlan, job: Job) -> Answer:
    """The node's answer; a request that failed past the retries gives an error answer.

    ``latency_ms`` of an answer is the time of the attempt that answered (the client's
    retry back-offs are not the model's latency); of an error, the time until giving up.
    """
    started = time.perf_counter()
    try:
        if job.case.messages is not None:
            return await _chat(client, plan, job, job.case.messages)
        return await _complete(client, plan, job, job.case.prompt or "")
    except RequestError as exc:
        error = exc.summary
    except NoChoiceError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Answer("", None, (time.perf_counter() - started) * 1000, error=error)


async def _chat(
    client: NodeClient, plan: EvalPlan, job: Job, messages: tuple[Message, ...]
) -> Answer:
    variables = _variables(job)
    body = _body(plan, job)
    body["messages"] = [{"role": m.role, "content": render(m.content, variables)} for m in messages]
    response = await client.post("/chat/completions", body)
    choice = _first_choice(response)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise NoChoiceError("the node answered with a choice without a message")
    return _answer(response, choice, message.get("content"))


async def _complete(client: NodeClient, plan: EvalPlan, job: Job, prompt: str) -> Answer:
    body = _body(plan, job)
    body["prompt"] = render(prompt, _variables(job))
    response = await client.post("/completions", body)
    choice = _first_choice(response)
    text = choice.get("text")
    if text is None:
        raise NoChoiceError("the node answered with content that is not text")
    return _answer(response, choice, text)


def _body(plan: EvalPlan, job: Job) -> dict[str, object]:
    body: dict[str, object] = {
        **plan.extra_body,
        "model": job.revision,
        "temperature": plan.temperature,
        "max_tokens": job.case.max_tokens or plan.default_max_tokens,
    }
    if plan.seed is not None:
        body["seed"] = plan.seed + job.repeat
    return body


def _first_choice(response: Reply) -> dict[str, Any]:
    try:
        document = json.loads(response.body)
    except ValueError:
        raise NoChoiceError("the node answered with a body that is not JSON") from None
    choices = document.get("choices") if isinstance(document, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise NoChoiceError("the node answered without a choice")
    return choices[0]


def _answer(response: Reply, choice: dict[str, Any], content: object) -> Answer:
    if content is not None and not isinstance(content, str):
        raise NoChoiceError("the node answered with content that is not text")
    finish = choice.get("finish_reason")
    finish_reason = finish if isinstance(finish, str) else None
    return Answer(content or "", finish_reason, response.latency_ms)


def _variables(job: Job) -> dict[str, str]:
    return {**job.suite.vars, **job.case.vars}


def progress_bar(total: int, console: Console | None = None) -> tuple[OnResult, Progress]:
    """A progress bar on stderr counting results (and failures); silent off a terminal.

    Use the returned :class:`~rich.progress.Progress` as a context manager around the run.
    """
    bar = counting_bar("golden", console)
    task = bar.add_task("golden", total=total, failed=0)
    failed = 0

    def advance(result: CaseResult) -> None:
        nonlocal failed
        if not result.passed:
            failed += 1
        bar.update(task, advance=1, failed=failed)

    return advance, bar


@contextlib.contextmanager
def progress_reporter(plan: EvalPlan, console: Console | None = None) -> Iterator[OnResult]:
    """``with progress_reporter(plan) as progress: run(plan, progress)``."""
    advance, bar = progress_bar(plan.total, console)
    with bar:
        yield advance
