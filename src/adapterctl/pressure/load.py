"""Replaying rounds of the schedule against a node, with the official async openai client.

Each request is a streamed chat completion (``stream_options.include_usage``), so time to
first token and the end of the answer are both seen. A round releases its requests at their
scheduled offsets from the round's start — sleeping until the next arrival *is* the arrival
process — and at most ``concurrency`` are in flight: a request that arrives when every slot
is taken waits for one (its wait is recorded as ``queue_ms``). Requests are not retried: a
timeout, a connection error, an HTTP error or an error event in the stream is one failed
request, counted in the error rate.

The node is checked first (:func:`~adapterctl.pressure.node.check_node`); that is the only
failure that stops the run. Before the first round, every model gets one short request
that is not measured, so that no round pays for a cold adapter load alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from adapterctl.nodeclient import NO_KEY
from adapterctl.pressure.node import check_node, describe
from adapterctl.pressure.results import Round, Sample
from adapterctl.pressure.schedule import Request

OnSample = Callable[[Sample], None]
"""Called once per finished request, in completion order (e.g. to advance a progress bar)."""


@dataclass(frozen=True, kw_only=True)
class LoadPlan:
    """How to reach the node and how to shape each request."""

    base_url: str
    """The node's OpenAI-compatible base URL, e.g. ``http://node:8000/v1``."""
    api_key: str | None
    concurrency: int
    timeout_s: float
    """For the whole request, first byte to last."""
    temperature: float = 0.0
    ignore_eos: bool = True
    """Send vLLM's ``ignore_eos`` so answers run to ``max_tokens`` (servers without it
    ignore unknown fields, as vLLM does)."""


@dataclass(frozen=True, slots=True)
class Shot:
    """One request of the schedule, aimed at a served model, at an offset in its round."""

    request: Request
    model: str
    offset_s: float


@dataclass(frozen=True, slots=True)
class RoundPlan:
    number: int
    revision: str
    shots: tuple[Shot, ...]


def run(
    plan: LoadPlan, rounds: Sequence[RoundPlan], progress: OnSample | None = None
) -> list[Round]:
    """:func:`run_rounds`, for synchronous callers (it runs its own event loop)."""
    return asyncio.run(run_rounds(plan, rounds, progress))


async def run_rounds(
    plan: LoadPlan, rounds: Sequence[RoundPlan], progress: OnSample | None = None
) -> list[Round]:
    """Check the node, warm every model up, then replay the rounds one after the other."""
    models = sorted({shot.model for r in rounds for shot in r.shots})
    async with AsyncOpenAI(
        base_url=plan.base_url,
        api_key=plan.api_key or NO_KEY,
        timeout=plan.timeout_s,
        max_retries=0,
        http_client=DefaultAioHttpClient(timeout=plan.timeout_s),  # as the golden runner
    ) as client:
        await check_node(client, plan.base_url, models)
        await asyncio.gather(*(_warm_up(client, plan, model) for model in models))
        return [await replay(client, plan, r, progress) for r in rounds]


async def _warm_up(client: AsyncOpenAI, plan: LoadPlan, model: str) -> None:
    """One short, unmeasured request; its failure shows up in the rounds, not here."""
    warm = Request(-1, 0.0, "warm-up", "hello", 1, 1, 0, burst=False)
    await _ask(client, plan, Shot(warm, model, 0.0))


async def replay(
    client: AsyncOpenAI, plan: LoadPlan, round_: RoundPlan, progress: OnSample | None = None
) -> Round:
    """Release the round's requests at their offsets, ``plan.concurrency`` in flight at most."""
    slots = asyncio.Semaphore(plan.concurrency)
    samples: list[Sample] = []
    start = time.perf_counter()

    async def measure(shot: Shot, arrived: float) -> None:
        try:
            sample = await _measure(client, plan, round_, shot, arrived)
        finally:
            slots.release()
        samples.append(sample)
        if progress is not None:
            progress(sample)

    async with asyncio.TaskGroup() as group:
        for shot in round_.shots:
            delay = start + shot.offset_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the arrival process itself, not a wait for a state
            arrived = start + shot.offset_s
            await slots.acquire()
            group.create_task(measure(shot, arrived))
    wall = time.perf_counter() - start
    ordered = tuple(sorted(samples, key=lambda s: s.index))
    return Round(round_.number, round_.revision, wall, ordered)


async def _measure(
    client: AsyncOpenAI, plan: LoadPlan, round_: RoundPlan, shot: Shot, arrived: float
) -> Sample:
    sent = time.perf_counter()
    outcome = await _ask(client, plan, shot)
    request = shot.request
    return Sample(
        revision=round_.revision,
        round=round_.number,
        index=request.index,
        target=request.target,
        model=shot.model,
        offset_s=shot.offset_s,
        queue_ms=max(0.0, sent - arrived) * 1000,
        ttft_ms=None if outcome.first is None else (outcome.first - sent) * 1000,
        latency_ms=(outcome.end - sent) * 1000,
        output_tokens=outcome.tokens,
        error=outcome.error,
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    first: float | None
    """perf_counter at the first generated text."""
    end: float
    tokens: int
    error: str | None


async def _ask(client: AsyncOpenAI, plan: LoadPlan, shot: Shot) -> _Outcome:
    """Stream one answer; every failure becomes the outcome's ``error``."""
    first: float | None = None
    pieces = 0
    usage: int | None = None
    try:
        async with asyncio.timeout(plan.timeout_s):
            stream = await client.chat.completions.create(
                model=shot.model,
                messages=[{"role": "user", "content": shot.request.prompt}],
                max_tokens=shot.request.max_tokens,
                temperature=plan.temperature,
                seed=shot.request.seed,
                # one caller per request: a gateway places each by a stable hash of its caller,
                # so the replay spreads over an alias's revisions by their weights
                user=f"pressure-{shot.request.index}",
                stream=True,
                stream_options={"include_usage": True},
                extra_body={"ignore_eos": True} if plan.ignore_eos else None,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage.completion_tokens
                    if any(choice.delta.content for choice in chunk.choices):
                        first = time.perf_counter() if first is None else first
                        pieces += 1
    except TimeoutError:
        return _Outcome(first, time.perf_counter(), 0, f"timeout after {plan.timeout_s:g} s")
    except openai.APIError as exc:
        return _Outcome(first, time.perf_counter(), 0, describe(exc))
    return _Outcome(first, time.perf_counter(), pieces if usage is None else usage, None)
