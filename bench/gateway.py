"""Benchmark: what a traffic gateway adds in front of an OpenAI-compatible node, on loopback.

One stub vLLM node (bench/stubnode.py: plain asyncio on uvloop, every chat completion
answered after ``--latency-ms``, 20 ms) is reached three ways in the same run:

1. direct: client → stub (``model: support-bot@1.1.0``);
2. ``adapterctl gateway`` → stub (``model: support-bot``, routed by the staging environment
   of a fresh git repository holding this working tree's registry files);
3. LiteLLM proxy 1.108.7 → stub (``model: support-bot``, one worker, a master key),
   installed into ``.venv-litellm`` on first use.

The client is aiohttp on uvloop: per point a fresh session whose connection limit is the
concurrency, one warm-up request per slot (every connection open), then max(200, 20 ×
concurrency) non-streamed chat completions, each timed with ``time.perf_counter`` to its
last byte; no request starts after ``--max-seconds`` (5 s), so the slowest path ends its
point early instead of stretching the run. Points are interleaved: for each concurrency (1,
32, 128), 3 rounds of the three paths, the order rotated each round, so machine load falls
on all alike; one more point streams (``"stream": true``, read to the end) at 32 in flight.
Figures are medians over rounds: p50 and p99 latency, the *added* p50 and p99 (path minus
direct within each round), requests per second and its ratio to direct (within each round).
CPU columns: milliseconds per request of the process group the client talks to (the stub
for direct; from /proc) and of the client itself, the share of the machine each one takes.

Targets for the gateway (reported, never failed): ≤ 1 ms added p50 and ≤ 5 ms added p99,
≥ 90 % of direct throughput, ahead of LiteLLM on added latency and throughput. A path that
cannot run (no ``adapterctl gateway`` command, LiteLLM not installable) is skipped, said.
Usage: ``python bench/gateway.py [--quick] [--concurrency 1,32,128] [--rounds 3]
[--latency-ms 20] [--max-seconds 5] [--no-litellm]`` (--quick: 1 round, half the requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiohttp
import uvloop
import yaml

import stubnode
from adapterctl.layout import ROOTS
from summary import figure

REPO = Path(__file__).resolve().parents[1]
ALIAS = "support-bot"
LITELLM_VERSION = "1.108.7"
LITELLM_VENV = REPO / ".venv-litellm"
LITELLM_STAMP = LITELLM_VENV / f".installed-litellm-{LITELLM_VERSION}"
MASTER_KEY = "sk-bench"
PROMPT = "How many days do I have to return an item?"
STREAM_CONCURRENCY = 32
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO = 1.0, 5.0, 0.9
LOOPBACK_ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # its bundled cost map, not one from GitHub
    "LITELLM_MODE": "PRODUCTION",  # no .env file loaded
    "LITELLM_LOG": "ERROR",  # no log line per request
    "DISABLE_ADMIN_UI": "True",
}
DIRECT, GATEWAY, LITELLM = "direct", "adapterctl gateway", "LiteLLM"


@dataclass(frozen=True)
class Route:
    """One way from the client to the node."""

    name: str
    url: str
    """Base URL, ending in /v1."""
    model: str
    headers: dict[str, str]
    pgid: int
    """Process group of what the client talks to, for its CPU time."""


@dataclass(frozen=True)
class Plan:
    """What to measure: the points (concurrency, streamed), how often, how many requests."""

    points: list[tuple[int, bool]]
    rounds: int
    quick: bool
    max_s: float
    """Time cap of one point: no new request after it (for the slowest path)."""

    def requests(self, concurrency: int) -> int:
        """max(200, 20 × concurrency); half that with --quick."""
        return max(200, 20 * concurrency) // (2 if self.quick else 1)


@dataclass(frozen=True)
class Point:
    """One measured run of one route at one concurrency."""

    latencies: list[float]
    wall_s: float
    errors: list[str]
    server_cpu_s: float
    client_cpu_s: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else math.nan

    @property
    def p99(self) -> float:
        if len(self.latencies) < 2:
            return math.nan
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[98] * 1000


@dataclass(frozen=True)
class Row:
    """A route's figures at one point, medians over rounds (milliseconds, requests/s)."""

    p50: float
    p99: float
    added_p50: float
    added_p99: float
    rps: float
    ratio: float
    server_cpu_ms: float
    client_cpu_ms: float
    requests: int
    errors: int
    error: str
    """The first error, if any."""


# --- processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of the live processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def ready(
    process: subprocess.Popen[bytes], url: str, headers: dict[str, str], wait_s: float
) -> bool:
    """Poll ``url`` until it answers 200, while the process lives, up to ``wait_s``."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + wait_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with opener.open(urllib.request.Request(url, headers=headers), timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:  # not listening yet, or not ready (HTTPError)
            pass
        time.sleep(0.2)  # polling for readiness
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group (it leads one), then wait; SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(log: Path, lines: int = 12) -> str:
    text = log.read_text("utf-8", errors="replace").rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in text)


def launch(
    name: str, command: list[str], health: str, log: Path, wait_s: float, env: dict[str, str]
) -> subprocess.Popen[bytes] | str:
    """Start a proxy in its own process group; the process when ready, else why not."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, **LOOPBACK_ENV, **env},
                                   start_new_session=True)  # fmt: skip
    began = time.perf_counter()
    if ready(process, health, {"Authorization": f"Bearer {MASTER_KEY}"}, wait_s):
        print(f"{name}: ready in {time.perf_counter() - began:.1f} s", flush=True)
        return process
    stop(process)
    why = "exited" if process.returncode not in (None, -signal.SIGTERM) else "not ready"
    return f"{name} {why} (exit {process.returncode}) within {wait_s:.0f} s; log:\n{tail(log)}"


# --- the adapterctl gateway ------------------------------------------------------------------


def gateway_missing() -> str | None:
    """Why ``adapterctl gateway`` cannot run here, or None."""
    command = [sys.executable, "-m", "adapterctl", "gateway", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 0:
        return None
    said = (done.stderr or done.stdout).strip().splitlines()
    return f"`adapterctl gateway --help` failed: {said[-1] if said else done.returncode}"


def make_registry(target: Path) -> Path:
    """This repository's registry files (working tree, as tests.conftest copies them),
    committed into a fresh git repository."""
    target.mkdir(parents=True)
    for part in (*ROOTS, "schemas"):
        shutil.copytree(REPO / part, target / part)
    (target / "pyproject.toml").write_text("[tool.adapterctl]\n")
    who = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false"]  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*who, "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=target, check=True, capture_output=True)
    return target


def start_gateway(node: str, work: Path) -> tuple[subprocess.Popen[bytes], Route] | str:
    missing = gateway_missing()
    if missing is not None:
        return missing
    registry = make_registry(work / "registry")
    config = work / "gateway.yaml"
    config.write_text(yaml.safe_dump({
        "name": "bench", "environment": "staging",
        "nodes": [{"name": "stub", "endpoint": node}],
        "state_dir": str(work / "gateway-state"),
    }, sort_keys=False))  # fmt: skip
    port = free_port()
    command = [sys.executable, "-m", "adapterctl", "gateway", "--config", str(config),
               "--repo", str(registry), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    process = launch(GATEWAY, command, f"{base}/health", work / "gateway.log", 60, {})
    if isinstance(process, str):
        return process
    return process, Route(GATEWAY, f"{base}/v1", ALIAS, {}, process.pid)


# --- LiteLLM --------------------------------------------------------------------------------


def install_litellm() -> str | None:
    """Install LiteLLM's proxy into .venv-litellm once (scripts/install-litellm.sh, what
    ``make litellm`` runs); why it failed, or None."""
    if LITELLM_STAMP.is_file():
        return None
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV.name} ...", flush=True)
    script = REPO / "scripts/install-litellm.sh"
    env = {**os.environ, "LITELLM_VENV": str(LITELLM_VENV), "LITELLM_VERSION": LITELLM_VERSION}
    try:
        done = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800,
                              check=False, env=env)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"LiteLLM install failed: {error}"
    if done.returncode != 0:
        said = (done.stderr + done.stdout).splitlines()
        return "LiteLLM install failed: " + " / ".join(line[:200] for line in said[-2:])
    return None


def start_litellm(node: str, work: Path) -> tuple[subprocess.Popen[bytes], Route] | str:
    failed = install_litellm()
    if failed is not None:
        return failed
    config = work / "litellm.yaml"
    params = {"model": f"openai/{stubnode.ADAPTER}", "api_base": node, "api_key": "none"}
    config.write_text(yaml.safe_dump({
        "model_list": [{"model_name": ALIAS, "litellm_params": params}],
        "general_settings": {"master_key": MASTER_KEY},
    }, sort_keys=False))  # fmt: skip
    port = free_port()
    command = [str(LITELLM_VENV / "bin/litellm"), "--config", str(config), "--host", "127.0.0.1",
               "--port", str(port), "--num_workers", "1"]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    health = f"{base}/health/readiness"
    process = launch(LITELLM, command, health, work / "litellm.log", 120, LITELLM_ENV)
    if isinstance(process, str):
        return process
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return process, Route(LITELLM, f"{base}/v1", ALIAS, headers, process.pid)


# --- the load --------------------------------------------------------------------------------


class Refused(Exception):
    """A response other than 200."""


def body(route: Route, stream: bool) -> bytes:
    request = {"model": route.model, "messages": [{"role": "user", "content": PROMPT}],
               "max_tokens": 16, "temperature": 0, "stream": stream}  # fmt: skip
    return json.dumps(request).encode()


async def one(session: aiohttp.ClientSession, route: Route, payload: bytes) -> float:
    """Seconds for one chat completion, to the last byte of the response."""
    headers = {"Content-Type": "application/json", **route.headers}
    began = time.perf_counter()
    async with session.post(f"{route.url}/chat/completions", data=payload, headers=headers) as r:
        answer = await r.read()
        if r.status != 200:
            raise Refused(f"HTTP {r.status}: {answer[:200].decode(errors='replace')}")
    return time.perf_counter() - began


async def load(
    session: aiohttp.ClientSession,
    route: Route,
    requests: int,
    concurrency: int,
    stream: bool,
    max_s: float = math.inf,
) -> tuple[list[float], list[str], float]:
    """``requests`` requests (none started after ``max_s``), ``concurrency`` in flight:
    (latencies, errors, wall seconds)."""
    payload, latencies, errors, left = body(route, stream), [], [], requests
    began = time.perf_counter()
    deadline = began + max_s

    async def slot() -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            try:
                latencies.append(await one(session, route, payload))
            except (aiohttp.ClientError, TimeoutError, Refused) as error:
                errors.append(f"{type(error).__name__}: {error}")

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - began


async def measure(
    route: Route, concurrency: int, requests: int, stream: bool, max_s: float
) -> Point:
    """One point: a fresh session, one warm-up request per slot, then the timed requests."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await load(session, route, concurrency, concurrency, stream)
        server, client = group_cpu_s(route.pgid), time.process_time()
        latencies, errors, wall = await load(session, route, requests, concurrency, stream, max_s)
        server, client = group_cpu_s(route.pgid) - server, time.process_time() - client
    return Point(latencies, wall, errors, server, client)


async def check(route: Route, wait_s: float = 30) -> str | None:
    """Why the route does not answer a chat completion as vLLM would (after ``wait_s``)."""
    deadline, said = time.monotonic() + wait_s, "no answer"
    headers = {"Content-Type": "application/json", **route.headers}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(f"{route.url}/chat/completions",
                                        data=body(route, False), headers=headers) as r:  # fmt: skip
                    text = await r.text()
                    if r.status == 200 and json.loads(text)["usage"]["completion_tokens"] > 0:
                        return None
                    said = f"HTTP {r.status}: {text[:300]}"
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as error:
                said = f"{type(error).__name__}: {error}"
            await asyncio.sleep(0.5)
    return f"{route.name} does not answer chat completions: {said}"


async def schedule(routes: list[Route], plan: Plan) -> dict[tuple[str, int, bool], list[Point]]:
    """Every point, ``plan.rounds`` times, the routes interleaved (order rotated each round)."""
    for route in routes:  # warm-up: imports, caches and connection pools of each path
        await measure(route, 32, 200, False, plan.max_s)
    results: dict[tuple[str, int, bool], list[Point]] = {}
    for concurrency, stream in plan.points:
        for turn in range(plan.rounds):
            for route in routes[turn % len(routes) :] + routes[: turn % len(routes)]:
                requests = plan.requests(concurrency)
                point = await measure(route, concurrency, requests, stream, plan.max_s)
                results.setdefault((route.name, concurrency, stream), []).append(point)
    return results


# --- the report ------------------------------------------------------------------------------


def summarize(points: list[Point], direct: list[Point]) -> Row:
    pairs = list(zip(points, direct, strict=True))
    done = sum(len(p.latencies) for p in points)
    return Row(
        p50=statistics.median(p.p50 for p in points),
        p99=statistics.median(p.p99 for p in points),
        added_p50=statistics.median(p.p50 - d.p50 for p, d in pairs),
        added_p99=statistics.median(p.p99 - d.p99 for p, d in pairs),
        rps=statistics.median(p.rps for p in points),
        ratio=statistics.median(p.rps / d.rps for p, d in pairs),
        server_cpu_ms=sum(p.server_cpu_s for p in points) / max(done, 1) * 1000,
        client_cpu_ms=sum(p.client_cpu_s for p in points) / max(done, 1) * 1000,
        requests=done,
        errors=sum(len(p.errors) for p in points),
        error=next((e for p in points for e in p.errors), ""),
    )


Table = dict[tuple[str, int, bool], Row]


def rows(results: dict[tuple[str, int, bool], list[Point]], names: list[str], plan: Plan) -> Table:
    table = {}
    for concurrency, stream in plan.points:
        direct = results[(DIRECT, concurrency, stream)]
        for name in names:
            key = (name, concurrency, stream)
            table[key] = summarize(results[key], direct)
    return table


def cells(name: str, concurrency: int, stream: bool, row: Row) -> tuple[str, ...]:
    added = name != DIRECT
    return (
        f"{concurrency}{' stream' if stream else ''}", name, f"{row.p50:.2f}", f"{row.p99:.2f}",
        f"{row.added_p50:+.2f}" if added else "", f"{row.added_p99:+.2f}" if added else "",
        f"{row.rps:.0f}", f"{row.ratio:.2f}" if added else "", f"{row.server_cpu_ms:.2f}",
        f"{row.client_cpu_ms:.2f}", str(row.requests), str(row.errors),
    )  # fmt: skip


def show(table: Table) -> None:
    head = ("in flight", "path", "p50 ms", "p99 ms", "+p50 ms", "+p99 ms", "req/s", "× direct",
            "server CPU", "client CPU", "requests", "errors")  # fmt: skip
    lines = [head] + [cells(*key, row) for key, row in table.items()]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        shown = [
            cell.ljust(width) if j < 2 else cell.rjust(width)
            for j, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(shown).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for (name, concurrency, stream), row in table.items():
        if row.errors:
            point = f"{concurrency}{' streamed' if stream else ''} in flight"
            print(f"{name}, {point}: {row.errors} failed, first: {row.error}")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def target_line(concurrency: int, ours: Row, peer: Row | None) -> str:
    """One concurrency's targets, each met or not."""
    line = (
        f"  {concurrency:>3} in flight: +p50 {ours.added_p50:.2f} ms "
        f"{verdict(ours.added_p50 <= TARGET_P50_MS)}, +p99 {ours.added_p99:.2f} ms "
        f"{verdict(ours.added_p99 <= TARGET_P99_MS)}, {ours.ratio:.0%} of direct req/s "
        f"{verdict(ours.ratio >= TARGET_RATIO)}, "
    )
    if peer is None:
        return line + "LiteLLM not measured"
    return line + (
        f"ahead of LiteLLM {verdict(ahead(ours, peer))} (LiteLLM +{peer.added_p50:.2f}/"
        f"{peer.added_p99:.2f} ms, {peer.rps:.0f} req/s)"
    )


def ahead(ours: Row, peer: Row) -> bool:
    """Less added p50 and p99 than LiteLLM, and more requests per second."""
    return (
        ours.added_p50 < peer.added_p50 and ours.added_p99 < peer.added_p99 and ours.rps > peer.rps
    )


def figures(concurrency: int, ours: Row, direct: Row, peer: Row | None) -> None:
    """The BENCH summary lines of one concurrency (for bench/run_all.py)."""
    c = concurrency
    fast = ours.added_p50 <= TARGET_P50_MS and ours.added_p99 <= TARGET_P99_MS
    figure("gateway", f"added p50/p99, {c} in flight",
           f"{ours.added_p50:.2f}/{ours.added_p99:.2f} ms",
           peer="" if peer is None else f"LiteLLM {peer.added_p50:.2f}/{peer.added_p99:.2f} ms",
           target=f"≤ {TARGET_P50_MS:g}/{TARGET_P99_MS:g} ms", met=fast)  # fmt: skip
    figure("gateway", f"req/s, {c} in flight", f"{ours.rps:.0f}",
           peer=f"direct {direct.rps:.0f}", ratio=f"{ours.ratio:.2f}×",
           target=f"≥ {TARGET_RATIO:g}×", met=ours.ratio >= TARGET_RATIO)  # fmt: skip
    if peer is not None:
        figure("gateway", f"vs LiteLLM, {c} in flight", f"{ours.rps:.0f} req/s",
               peer=f"LiteLLM {peer.rps:.0f} req/s", ratio=f"{ours.rps / peer.rps:.2f}×",
               target="ahead on latency and req/s", met=ahead(ours, peer))  # fmt: skip


def targets(table: Table, plan: Plan) -> None:
    """Each target of the gateway at each concurrency, met or not; then the BENCH lines."""
    print(f"\ntargets for the gateway (non-streamed): added p50 ≤ {TARGET_P50_MS:g} ms, "
          f"added p99 ≤ {TARGET_P99_MS:g} ms, ≥ {TARGET_RATIO:.0%} of direct req/s, "
          "ahead of LiteLLM on added latency and req/s")  # fmt: skip
    concurrencies = [c for c, stream in plan.points if not stream]
    for c in concurrencies:
        print(target_line(c, table[(GATEWAY, c, False)], table.get((LITELLM, c, False))))
    for c in concurrencies:
        ours, direct = table[(GATEWAY, c, False)], table[(DIRECT, c, False)]
        figures(c, ours, direct, table.get((LITELLM, c, False)))


def report(
    results: dict[tuple[str, int, bool], list[Point]], names: list[str], plan: Plan, latency: float
) -> None:
    print(f"\nstub latency {latency:g} ms; {plan.rounds} round(s) per point, medians over "
          "rounds; +p50/+p99 and × direct: path against direct in the same round; CPU: ms per "
          "request of the process the client talks to (server) and of the client")  # fmt: skip
    table = rows(results, names, plan)
    show(table)
    if GATEWAY in names:
        targets(table, plan)
    else:
        print("\nadapterctl gateway not measured: no targets to check")
        figure("gateway", "added latency and req/s", "not measured")


# --- the run ---------------------------------------------------------------------------------


def start_proxies(
    node: str, work: Path, with_litellm: bool
) -> tuple[list[subprocess.Popen[bytes]], list[Route], list[str]]:
    """The gateway and LiteLLM, each when it can run: (processes, routes, skip reasons)."""
    processes, routes, skipped = [], [], []
    starters: list[Callable[[], tuple[subprocess.Popen[bytes], Route] | str]] = [
        partial(start_gateway, node, work)
    ]
    if with_litellm:
        starters.append(partial(start_litellm, node, work))
    else:
        skipped.append(f"{LITELLM}: --no-litellm")
    for start in starters:
        started = start()
        if isinstance(started, str):
            skipped.append(started)
        else:
            processes.append(started[0])
            routes.append(started[1])
    return processes, routes, skipped


async def usable(routes: list[Route]) -> tuple[list[Route], list[str]]:
    """The routes that answer a chat completion, and why the others were dropped."""
    kept, dropped = [], []
    for route in routes:
        why = await check(route)
        if why is None:
            kept.append(route)
        else:
            dropped.append(why)
    return kept, dropped


def run(plan: Plan, latency_ms: float, with_litellm: bool) -> int:
    stub, port = stubnode.start(latency_ms / 1000)
    node = f"http://127.0.0.1:{port}/v1"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
            processes, routes, skipped = start_proxies(node, Path(tmp), with_litellm)
            direct = Route(DIRECT, node, stubnode.ADAPTER, {}, stub.pid)
            routes, dropped = uvloop.run(usable([direct, *routes]))
            for reason in skipped + dropped:
                print(f"skipped: {reason}", flush=True)
            if not routes or routes[0] is not direct:
                print("the stub node does not answer; nothing measured")
                return 1
            results = uvloop.run(schedule(routes, plan))
    finally:
        for process in [*processes, stub]:
            stop(process)
    report(results, [route.name for route in routes], plan, latency_ms)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, half the requests")
    parser.add_argument("--concurrency", default="1,32,128", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=5.0, help="cap of one point")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM path")
    args = parser.parse_args()
    points = [(int(c), False) for c in args.concurrency.split(",")]
    plan = Plan(points=[*points, (STREAM_CONCURRENCY, True)],
                rounds=1 if args.quick else args.rounds, quick=args.quick,
                max_s=args.max_seconds)  # fmt: skip
    return run(plan, args.latency_ms, not args.no_litellm)


if __name__ == "__main__":
    raise SystemExit(main())
