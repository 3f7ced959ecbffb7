"""Benchmark: how long a sync takes to converge 1, 10 and 100 nodes, and to check them.

Each node is a lightweight simulator of vLLM's API on loopback (``/v1/models``,
``load_lora_adapter`` answering after ``--load-latency`` seconds, ``unload_lora_adapter``):
a fixture for scale only — correctness is tested against the real reference node. The
registry is a clone of this repository in a temporary folder; every node has its own
adapter cache, so each one fetches, digest-checks and signature-checks what it loads.

Per node count it times, with ``sync_nodes`` (the function behind ``adapterctl sync``):
the first sync (cold caches), a promotion (staging: support-bot 1.2.0 at 100 %, 1.1.0
retained: fetch, verify, load, unload), a rollback (``git revert`` of it: 1.1.0 loads from
the cache) and the steady-state check of converged nodes (one ``GET /v1/models`` each).
With parallelism above the node count, wall time should stay near one node's; the
steady-state check of 100 nodes must take under 2 s.
Usage: ``python bench/sync.py [--nodes 1,10,100] [--load-latency 0.2] [--parallel 32]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from adapterctl.registry import Registry
from adapterctl.serving.nodeconfig import Node, load_node
from adapterctl.serving.sync import SyncOptions, sync_nodes
from summary import figure

REPO = Path(__file__).resolve().parents[1]
STEADY_TARGET_S = 2.0
PROMOTION = (
    "    - {version: 1.1.0, weight: 100}\n  sql",
    "    - {version: 1.2.0, weight: 100}\n    - {version: 1.1.0, weight: 0}\n  sql",
)


class Simulator(BaseHTTPRequestHandler):
    """One node: the base card, loaded adapters, loads that take ``latency`` seconds."""

    base: str
    latency: float
    loaded: dict[str, str]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        cards = [{"id": "tiny-llama", "root": self.base, "parent": None}]
        cards += [{"id": k, "root": v, "parent": "tiny-llama"} for k, v in self.loaded.items()]
        self._json(200, {"object": "list", "data": cards})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/load_lora_adapter"):
            time.sleep(self.latency)  # the simulated GPU load
            self.loaded[body["lora_name"]] = body["lora_path"]
        else:
            self.loaded.pop(body["lora_name"], None)
        self._text("Success")

    def _json(self, status: int, data: object) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _text(self, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())


@contextmanager
def simulator(base: Path, latency: float) -> Iterator[str]:
    handler = type("Node", (Simulator,), {"base": str(base), "latency": latency, "loaded": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def base_path() -> Path:
    base = Registry.load(REPO, workers=1).base("tiny-llama", "r1")
    assert base is not None
    assert base.weights_artifact is not None
    return REPO / "examples/store/sha256" / str(base.weights_artifact).removeprefix("sha256:")


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True,
                          text=True)  # fmt: skip
    return done.stdout.strip()


def node_config(folder: Path, index: int, endpoint: str, base: Path, store: Path) -> Node:
    path = folder / f"node-{index:03d}.yaml"
    path.write_text(
        f"name: node-{index:03d}\nenvironment: staging\nendpoint: {endpoint}\n"
        f"base: {{path: {base}, served_name: tiny-llama}}\ncache_dir: cache-{index:03d}\n"
        f"store: {store.as_uri()}\ntrust: {{adapters: {REPO / 'examples/trust.yaml'}}}\n"
    )
    return load_node(path)


def timed(root: Path, nodes: list[Node], parallel: int) -> float:
    started = time.perf_counter()
    _, results = sync_nodes(root, "staging", nodes, SyncOptions(parallel=parallel))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(f"sync failed on {failed[0].node}: {failed[0].reason}: {failed[0].message}")
    return elapsed


def run(count: int, latency: float, parallel: int, work: Path) -> dict[str, float]:
    root = work / "registry"
    git(work, "clone", "-q", str(REPO), str(root))
    base = base_path()
    with ExitStack() as stack:
        endpoints = [stack.enter_context(simulator(base, latency)) for _ in range(count)]
        store = root / "examples/store"
        nodes = [node_config(work, i, e, base, store) for i, e in enumerate(endpoints)]
        figures = {"cold": timed(root, nodes, parallel)}
        env_file = root / "environments/staging/environment.yaml"
        env_file.write_text(env_file.read_text().replace(*PROMOTION))
        git(root, "commit", "-q", "-am", "Promote support-bot 1.2.0")
        figures["promotion"] = timed(root, nodes, parallel)
        git(root, "revert", "--no-edit", "HEAD")
        figures["rollback"] = timed(root, nodes, parallel)
        figures["steady"] = timed(root, nodes, parallel)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,10,100")
    parser.add_argument("--load-latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, default=32)
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    print(f"sync: load latency {args.load_latency:g} s, parallel {args.parallel}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'nodes':>6} {'cold s':>8} {'promote s':>10} {'rollback s':>11} {'steady s':>9} "
          f"{'promote/1':>10}")  # fmt: skip
    single: float | None = None
    steady_100: float | None = None
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="adapterctl-bench-sync-") as tmp:
            f = run(count, args.load_latency, args.parallel, Path(tmp))
        single = single or f["promotion"]
        if count == 100:
            steady_100 = f["steady"]
        print(f"{count:>6} {f['cold']:>8.2f} {f['promotion']:>10.2f} {f['rollback']:>11.2f} "
              f"{f['steady']:>9.2f} {f['promotion'] / single:>9.2f}×")  # fmt: skip
        figure("sync", f"{count} nodes: promotion / rollback", f"{f['promotion']:.2f} s / "
               f"{f['rollback']:.2f} s", peer=f"1 node {single:.2f} s",
               ratio=f"{f['promotion'] / single:.2f}×")  # fmt: skip
    if steady_100 is not None:
        verdict = "met" if steady_100 < STEADY_TARGET_S else "NOT met"
        print(f"steady-state check of 100 nodes: {steady_100:.2f} s "
              f"(target < {STEADY_TARGET_S:g} s: {verdict})")  # fmt: skip
        figure("sync", "steady-state check, 100 nodes", f"{steady_100:.2f} s",
               target=f"< {STEADY_TARGET_S:g} s", met=steady_100 < STEADY_TARGET_S)  # fmt: skip


if __name__ == "__main__":
    main()
