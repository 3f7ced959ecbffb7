"""Benchmark: the reference node's start-up and throughput, base vs adapter requests.

Starts ``adapterctl serve`` (a real subprocess) on a tiny kit model with one LoRA, then
measures in the same run:

- start-up: from launching the process to the first completed token (target < 10 s);
- sustained requests per second with 8 concurrent clients (the official async openai
  client, temperature 0, 16 tokens), first against the base, then against the adapter.

Prints both side by side and the adapter/base cost ratio (target < 2×).
Usage: ``python bench/serve.py [--requests 160] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openai import APIConnectionError, AsyncOpenAI, OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the examples package
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base
from summary import figure

KEY = "bench-key"
PROMPT = "How many days do I have to return an item?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(base: Path, adapter: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Launch the node and wait for its first completion; returns (process, seconds)."""
    env = dict(os.environ, VLLM_ALLOW_RUNTIME_LORA_UPDATING="True", HF_HUB_OFFLINE="1")
    command = [
        str(Path(sys.executable).parent / "adapterctl"),
        "serve",
        "--base",
        str(base),
        "--lora-modules",
        f"bench-lora={adapter}",
        "--port",
        str(port),
        "--api-key",
        KEY,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    while True:
        try:
            client.completions.create(model=str(base), prompt=PROMPT, max_tokens=1, temperature=0)
            return process, time.perf_counter() - started
        except APIConnectionError:
            if process.poll() is not None:
                raise SystemExit("adapterctl serve exited during start-up") from None
            time.sleep(0.05)


async def load(port: int, model: str, requests: int, concurrency: int) -> tuple[float, list[float]]:
    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    latencies: list[float] = []
    queue = list(range(requests))

    async def worker() -> None:
        while queue:
            queue.pop()
            began = time.perf_counter()
            await client.completions.create(
                model=model, prompt=PROMPT, max_tokens=16, temperature=0
            )
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    await client.close()
    return requests / elapsed, latencies


def report(label: str, rps: float, latencies: list[float]) -> None:
    p50 = statistics.median(latencies) * 1000
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    print(f"{label:>8}  {rps:8.1f} req/s   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        base, adapter = Path(tmp) / "base", Path(tmp) / "adapter"
        make_base(base, BaseSpec(arch="llama"))
        make_adapter(adapter, BaseSpec(arch="llama"), AdapterSpec(seed=1))
        port = free_port()
        process, startup = start(base, adapter, port)
        try:
            print(f"start-up to first token: {startup:.2f} s (target < 10 s)")
            base_rps, base_lat = asyncio.run(load(port, str(base), args.requests, args.concurrency))
            lora_rps, lora_lat = asyncio.run(
                load(port, "bench-lora", args.requests, args.concurrency)
            )
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"{args.concurrency} concurrent clients, {args.requests} requests each side, 16 tokens:")
    report("base", base_rps, base_lat)
    report("adapter", lora_rps, lora_lat)
    print(f"adapter cost / base cost: {base_rps / lora_rps:.2f}x (target < 2x)")
    figure("serve", "start-up to first token", f"{startup:.2f} s", target="< 10 s",
           met=startup < 10)  # fmt: skip
    figure("serve", f"{args.concurrency} clients through a LoRA", f"{lora_rps:.1f} req/s",
           peer=f"base {base_rps:.1f} req/s", ratio=f"{base_rps / lora_rps:.2f}×",
           target="< 2×", met=base_rps / lora_rps < 2)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
