"""Benchmark: the golden runner's own overhead, against a stub node with a fixed latency.

Starts a stub OpenAI-compatible node (this file with ``--stub``: a subprocess serving a
pre-bound loopback socket) that answers every chat request after ``--latency-ms``, then
runs a ``--cases`` suite of one revision, repeats=1, ``--concurrency`` requests in flight,
exactly as ``adapterctl eval`` does, and prints:

- the ideal, cases × latency / concurrency, and the wall time (target within 1.2×);
- overhead per request: (wall − ideal) × concurrency / cases, the time each request holds a
  slot beyond the node's latency, beside the raw-socket floor's (the stub and loopback alone
  hold a slot about 4 ms beyond 50 ms on two cores); and the runner's CPU time per request
  (target < 2 ms);
- a floor: the same requests from a minimal raw-socket client, what the stub and loopback
  cost by themselves;
- the same suite run by promptfoo in the same run: the project's pinned install
  (``make promptfoo``: ``.promptfoo/``, with the Node.js it needs), else whatever
  ``npx --no-install promptfoo`` finds; its answers are counted from its JSON output, so a
  run that asked nothing is not reported as a fast one. It is timed as a whole command
  (Node.js start-up included), and a one-case run beside it shows that fixed cost.

The stub is plain asyncio, not FastAPI: uvicorn and FastAPI add about 2 ms per request at
this rate, which would be counted as the runner's.
Usage: ``python bench/eval.py [--cases 500] [--latency-ms 50] [--concurrency 32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapterctl.evals.runner import EvalPlan, run
from adapterctl.model.golden import GoldenSuite
from summary import figure

MODEL = "bench@1.0.0"
PROJECT = Path(__file__).resolve().parent.parent / ".promptfoo/node_modules"
PROJECT_NODE = PROJECT / ".bin/node"  # the Node.js make promptfoo pins beside it
PROJECT_PROMPTFOO = PROJECT / "promptfoo/dist/src/entrypoint.js"
ANSWER = "Returns are accepted within 30 days."
CHAT = b"POST /v1/chat/completions HTTP/1.1\r\nhost: stub\r\ncontent-length: 2\r\n\r\n{}"


def _http(document: object) -> bytes:
    body = json.dumps(document).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


MODELS = _http({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0}]})
ANSWERED = _http(
    {
        "id": "bench",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
            }
        ],
    }
)


async def stub(fd: int, latency_s: float) -> None:
    """Serve ``/v1/models`` and ``/v1/chat/completions`` (HTTP/1.1 keep-alive) on ``fd``."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        await reader.readexactly(int(value))
                if "/models" in head[0]:
                    writer.write(MODELS)
                else:
                    await asyncio.sleep(latency_s)
                    writer.write(ANSWERED)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(connection, sock=socket.socket(fileno=fd))
    await server.serve_forever()


def start_stub(latency_s: float) -> tuple[subprocess.Popen[bytes], int]:
    listener = socket.create_server(("127.0.0.1", 0))  # connections queue until it serves
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted ones inherit it
    port = int(listener.getsockname()[1])
    command = [sys.executable, __file__, "--stub", str(listener.fileno()), str(latency_s)]
    process = subprocess.Popen(command, pass_fds=(listener.fileno(),))
    listener.close()
    return process, port


def suite_document(cases: int) -> dict[str, Any]:
    return {
        "suite": "bench",
        "description": "Synthetic cases for the runner benchmark.",
        "cases": [
            {
                "id": f"case-{i}",
                "messages": [{"role": "user", "content": f"Question {i}: how long to return?"}],
                "assert": [{"type": "icontains", "value": "30 days"}],
            }
            for i in range(cases)
        ],
    }


def run_adapterctl(url: str, cases: int, concurrency: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of one whole run (client, /v1/models check, every case), passes."""
    suite = GoldenSuite.model_validate(suite_document(cases))
    plan = EvalPlan(
        base_url=url,
        api_key=None,
        suites=(suite,),
        revisions=(MODEL,),
        repeats=1,
        concurrency=concurrency,
        root=Path.cwd(),
    )
    run(plan)  # warm-up: the stub's start-up is not the runner's cost
    wall, cpu = time.perf_counter(), time.process_time()
    results = run(plan)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, sum(result.passed for result in results)


async def floor(port: int, cases: int, concurrency: int) -> float:
    """Wall seconds of the same requests from a minimal client (one connection per slot)."""
    pending = iter(range(cases))

    async def slot() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in pending:
            writer.write(CHAT)
            await reader.readexactly(len(ANSWERED))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return time.perf_counter() - started


def promptfoo_env(home: Path) -> dict[str, str]:
    """No telemetry, no update check, its config and logs in ``home``; the one event it posts
    with telemetry off ("telemetry disabled") goes to a closed loopback port, not out."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        nowhere = f"http://127.0.0.1:{listener.getsockname()[1]}"
    return dict(
        os.environ,
        HOME=str(home),
        PROMPTFOO_CONFIG_DIR=str(home / ".promptfoo"),
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        HTTP_PROXY=nowhere,
        HTTPS_PROXY=nowhere,
        NO_PROXY="127.0.0.1,localhost",
    )


def promptfoo_commands() -> list[list[str]]:
    """How promptfoo may be run, best first: the project's install, then npx's."""
    commands = []
    if PROJECT_NODE.is_file() and PROJECT_PROMPTFOO.is_file():
        commands.append([str(PROJECT_NODE), str(PROJECT_PROMPTFOO)])
    if shutil.which("npx") is not None:
        commands.append(["npx", "--no-install", "promptfoo"])
    return commands


def find_promptfoo() -> tuple[list[str], str] | None:
    """The first promptfoo that runs here, and its version."""
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        for command in promptfoo_commands():
            try:
                done = subprocess.run(
                    [*command, "--version"], capture_output=True, text=True, timeout=60,
                    check=False, env=promptfoo_env(Path(tmp)),
                )  # fmt: skip
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                return command, done.stdout.strip()
    return None


def run_promptfoo(
    promptfoo: list[str], url: str, cases: int, concurrency: int
) -> tuple[float, int]:
    """Wall seconds of ``promptfoo eval`` on the same suite, node and concurrency; passes."""
    provider = {
        "id": f"openai:chat:{MODEL}",
        "config": {"apiBaseUrl": url, "apiKey": "EMPTY", "temperature": 0, "max_tokens": 64},
    }
    tests = [
        {"vars": {"question": case["messages"][0]["content"]}, "assert": case["assert"]}
        for case in suite_document(cases)["cases"]
    ]
    config = {"providers": [provider], "prompts": ["{{question}}"], "tests": tests}
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        path, out = Path(tmp) / "promptfooconfig.yaml", Path(tmp) / "results.json"
        path.write_text(json.dumps(config))  # JSON is YAML
        command = [*promptfoo, "eval", "-c", str(path), "--no-cache", "--no-write", "--no-table"]
        command += ["--no-progress-bar", "--max-concurrency", str(concurrency), "-o", str(out)]
        started = time.perf_counter()
        subprocess.run(command, env=promptfoo_env(Path(tmp)), cwd=tmp, check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - started
        rows = json.loads(out.read_text())["results"]["results"] if out.is_file() else []
        return wall, sum(1 for row in rows if row.get("success"))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stub", nargs=2, metavar=("FD", "LATENCY_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stub:
        asyncio.run(stub(int(args.stub[0]), float(args.stub[1])))
        return 0
    n, concurrency, latency_s = args.cases, args.concurrency, args.latency_ms / 1000
    process, port = start_stub(latency_s)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wall, cpu, passed = run_adapterctl(url, n, concurrency)
        bottom = asyncio.run(floor(port, n, concurrency))
        found = find_promptfoo()
        promptfoo = None
        if found is not None:  # one case first: what a run costs beyond asking (start-up)
            promptfoo = (
                run_promptfoo(found[0], url, 1, 1),
                run_promptfoo(found[0], url, n, concurrency),
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
    ideal = n * latency_s / concurrency
    print(f"{n} cases × 1 revision × 1 repeat, stub latency {args.latency_ms:g} ms, ", end="")
    print(f"concurrency {concurrency}; {passed} passed")
    print(f"ideal (cases × latency / concurrency)  {ideal:6.3f} s")
    print(f"floor (raw-socket client, same stub)   {bottom:6.3f} s  {bottom / ideal:.2f}× ideal")
    print(
        f"adapterctl                             {wall:6.3f} s  {wall / ideal:.2f}× ideal", end=""
    )
    print(" (target ≤ 1.2×)")
    overhead_ms = (wall - ideal) * concurrency / n * 1000
    floor_ms = (bottom - ideal) * concurrency / n * 1000
    held = "(wall − ideal) × concurrency / cases"
    print(f"overhead per request  {overhead_ms:5.2f} ms  {held}; raw socket {floor_ms:5.2f} ms")
    print(f"runner CPU per request  {cpu / n * 1000:5.2f} ms")
    figure("eval", f"{n} golden cases, {concurrency} in flight", f"{wall:.2f} s",
           peer=f"ideal {ideal:.2f} s, raw socket {bottom:.2f} s", ratio=f"{wall / ideal:.2f}×",
           target="≤ 1.2×", met=wall / ideal <= 1.2)  # fmt: skip
    figure("eval", "runner CPU per request", f"{cpu / n * 1000:.2f} ms", target="< 2 ms",
           met=cpu / n * 1000 < 2)  # fmt: skip
    if found is None or promptfoo is None:
        print("promptfoo: not installed (make promptfoo)")
        return 0
    version, ((one, _), (seconds, answered)) = found[1], promptfoo
    print(f"promptfoo {version}                        {seconds:6.3f} s  ", end="")
    print(f"{seconds / ideal:.2f}× ideal; {answered} passed (a whole `promptfoo eval`)")
    print(f"  of which start-up and exit (a 1-case run)  {one:6.3f} s; the rest ", end="")
    print(f"{seconds - one:6.3f} s  {(seconds - one) / ideal:.2f}× ideal")
    figure("eval", f"promptfoo {version}, same cases and stub", f"{seconds:.2f} s",
           peer=f"adapterctl {wall:.2f} s, ideal {ideal:.2f} s, 1 case {one:.2f} s",
           ratio=f"{seconds / ideal:.2f}×",
           met=None)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
