"""Benchmark: the reference node beside real vLLM, on the example base, one after the other.

For each engine (``adapterctl serve`` and vLLM's OpenAI server from ``.venv-vllm``, both
with runtime LoRA updates, rank 64, 4 GPU-side and 8 CPU-side slots, an API key):

- start-up: from launching the process to the first completed token;
- one adapter load: ``POST /v1/load_lora_adapter`` of a fresh name (median of 5);
- the node phase of a sync of N adapters (N = 1, 4, 8): adapterctl's own vLLM client
  loads N fresh names and confirms them in ``/v1/models``, as ``sync`` does after fetching
  and verifying (fetch and hashing are measured by bench/sync.py and bench/digest.py);
- the golden suite (support-bot's refunds, through support-bot 1.1.0, streamed, greedy, 3
  repeats, one request at a time): time to first token and end to end, p50 and p95.

Prints both side by side with the vLLM/reference ratio. Skips vLLM (exit 0, said) where
``make vllm`` has not installed it. Usage: ``python bench/vllm_node.py [--repeats 3]``.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

import yaml
from openai import APIConnectionError, OpenAI
from openai.types.chat import ChatCompletionMessageParam

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package
from adapterctl.serving.vllm import Card, VllmClient, session
from summary import figure
from tests.refnode import artifact
from tests.syncnode import BASE, base_path
from tests.vllmnode import SERVER_ENV

REPO = Path(__file__).resolve().parent.parent
KEY = "bench-key"
LIMITS = ["--max-lora-rank", "64", "--max-loras", "4", "--max-cpu-loras", "8"]
VLLM_PYTHON = Path(os.environ.get("ADAPTERCTL_VLLM_PYTHON") or REPO / ".venv-vllm/bin/python")
GOLDEN = REPO / "adapters/support-bot/golden/refunds.yaml"
REVISION = "support-bot@1.1.0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reference_command(port: int) -> list[str]:
    adapterctl = Path(sys.executable).with_name("adapterctl")
    return [str(adapterctl), "serve", "--base", str(base_path()), "--served-model-name", BASE,
            "--port", str(port), "--api-key", KEY, *LIMITS]  # fmt: skip


def vllm_command(port: int) -> list[str]:
    return [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(base_path()), "--served-model-name", BASE, "--host", "127.0.0.1",
            "--port", str(port), "--api-key", KEY, "--enable-lora", *LIMITS,
            "--max-model-len", "512", "--dtype", "float32"]  # fmt: skip


@dataclass
class Figures:
    startup_s: float = 0.0
    rss_mib: float = 0.0
    load_s: float = 0.0
    sync_s: dict[int, float] = field(default_factory=dict)
    ttft_s: list[float] = field(default_factory=list)
    e2e_s: list[float] = field(default_factory=list)


def start(command: list[str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], float]:
    """Launch the node and wait for its first completed token; (process, seconds)."""
    began = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **SERVER_ENV}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    while True:
        try:
            client.completions.create(model=BASE, prompt="Hello", max_tokens=1)
            return process, time.perf_counter() - began
        except APIConnectionError:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited during start-up; see {log}") from None
            time.sleep(0.1)  # polling for readiness


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


def group_rss_mib(pgid: int) -> float:
    """Resident memory of the node's whole process group (vLLM runs an engine-core child)."""
    shown = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True,
                           text=True, check=True).stdout  # fmt: skip
    return sum(int(kib) for kib in shown.split()) / 1024


class BlockingClient:
    """The sync's own vLLM client, one request at a time from plain code: the peer figures
    are vLLM's loads through the very client a sync uses, with nothing in between."""

    def __init__(self, endpoint: str, api_key: str | None) -> None:
        self.endpoint = endpoint
        self._loop = asyncio.new_event_loop()
        self._pool = session()
        http = self._loop.run_until_complete(self._pool.__aenter__())
        self._client = VllmClient(endpoint, http, api_key)

    def models(self) -> list[Card]:
        return self._loop.run_until_complete(self._client.models())

    def load(self, name: str, path: str) -> None:
        self._loop.run_until_complete(self._client.load(name, path))

    def unload(self, name: str) -> None:
        self._loop.run_until_complete(self._client.unload(name))

    def close(self) -> None:
        self._loop.run_until_complete(self._pool.__aexit__(None, None, None))
        self._loop.close()


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def measure_loads(client: BlockingClient, figures: Figures) -> None:
    path = artifact(REVISION)
    loads = [timed(partial(client.load, f"one-{i}@1.0.0", path)) for i in range(5)]
    figures.load_s = statistics.median(loads)
    for i in range(5):
        client.unload(f"one-{i}@1.0.0")
    for n in (1, 4, 8):
        names = [f"sync{n}-{i}@1.0.0" for i in range(n)]

        def node_phase(names: list[str] = names) -> None:
            for name in names:
                client.load(name, path)
            shown = {card.id for card in client.models()}
            assert set(names) <= shown, "not confirmed in /v1/models"

        figures.sync_s[n] = timed(node_phase)
        for name in names:
            client.unload(name)


def measure_golden(port: int, repeats: int, figures: Figures) -> None:
    suite = yaml.safe_load(GOLDEN.read_text("utf-8"))
    store = suite["vars"]["store"]
    openai = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    for _ in range(repeats):
        for case in suite["cases"]:
            messages = cast(
                "list[ChatCompletionMessageParam]",
                [{"role": m["role"], "content": m["content"].replace("{{store}}", store)}
                 for m in case["messages"]],
            )  # fmt: skip
            began, first = time.perf_counter(), None
            stream = openai.chat.completions.create(
                model=REVISION, messages=messages, temperature=0, stream=True,
                max_tokens=case.get("max_tokens", 48),
            )  # fmt: skip
            for chunk in stream:
                if first is None and chunk.choices and chunk.choices[0].delta.content:
                    first = time.perf_counter() - began
            figures.e2e_s.append(time.perf_counter() - began)
            figures.ttft_s.append(first if first is not None else figures.e2e_s[-1])


def run_engine(name: str, command: list[str], port: int, repeats: int, logs: Path) -> Figures:
    figures = Figures()
    process, figures.startup_s = start(command, port, logs / f"{name}.log")
    figures.rss_mib = group_rss_mib(process.pid)
    try:
        client = BlockingClient(f"http://127.0.0.1:{port}/v1", KEY)
        measure_loads(client, figures)
        client.load(REVISION, artifact(REVISION))
        client.close()
        measure_golden(port, repeats, figures)
    finally:
        stop(process)
    return figures


def rows(ref: Figures, vllm: Figures | None) -> list[tuple[str, float, float | None]]:
    def both(get: Callable[[Figures], float]) -> tuple[float, float | None]:
        return get(ref), None if vllm is None else get(vllm)

    def startup(f: Figures) -> float:
        return f.startup_s

    def load(f: Figures) -> float:
        return f.load_s

    out = [("start-up to first token", *both(startup)), ("one adapter load", *both(load))]
    for n in (1, 4, 8):
        out.append((f"sync node phase, {n} adapters", *both(partial(_sync, n=n))))
    for label, attribute in (("golden first token", "ttft_s"), ("golden end to end", "e2e_s")):
        for q in (50, 95):
            out.append((f"{label} p{q}", *both(partial(_quantile, attribute=attribute, q=q))))
    return out


def _sync(f: Figures, n: int) -> float:
    return f.sync_s[n]


def _quantile(f: Figures, attribute: str, q: int) -> float:
    values: list[float] = getattr(f, attribute)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def show_memory(ref: Figures, vllm: Figures | None) -> None:
    other = "-" if vllm is None else f"{vllm.rss_mib:.0f} MiB"
    print(f"{'resident memory after start-up':34}{ref.rss_mib:9.0f} MiB{other:>12}")
    if vllm is not None:
        ratio = f"{vllm.rss_mib / ref.rss_mib:.2f}×"
        figure("vllm_node", "resident memory after start-up", f"{vllm.rss_mib:.0f} MiB",
               peer=f"reference {ref.rss_mib:.0f} MiB", ratio=ratio)  # fmt: skip


def show(table: list[tuple[str, float, float | None]]) -> None:
    print(f"{'':34}{'reference':>12}{'vLLM':>12}{'vLLM/ref':>10}")
    for label, ref, other in table:
        shown = "-" if other is None else f"{other * 1000:10.1f} ms"
        ratio = "-" if other is None else f"{other / ref:.2f}×"
        print(f"{label:34}{ref * 1000:10.1f} ms{shown:>12}{ratio:>10}")
        if other is not None:
            figure("vllm_node", label, f"{other * 1000:.1f} ms",
                   peer=f"reference {ref * 1000:.1f} ms", ratio=f"{other / ref:.2f}×")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    installed = (VLLM_PYTHON.parent.parent / ".installed-vllm").is_file()
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        logs = Path(tmp)
        port = free_port()
        ref = run_engine("reference", reference_command(port), port, args.repeats, logs)
        vllm = None
        if installed or os.environ.get("ADAPTERCTL_VLLM_PYTHON"):
            port = free_port()
            vllm = run_engine("vllm", vllm_command(port), port, args.repeats, logs)
        else:
            print(f"vLLM not installed ({VLLM_PYTHON}): run `make vllm`; reference only")
    show(rows(ref, vllm))
    show_memory(ref, vllm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
