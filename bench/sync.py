"""Benchmark: how the cost of a sync grows from 1 to 1,000 nodes.

The nodes are simulated vLLM servers on loopback (:mod:`syncnodes`: ``/v1/models``,
``load_lora_adapter`` answering after ``--load-latency`` seconds, ``unload_lora_adapter``),
all in one uvloop process apart from this one, so the simulator's CPU is not counted as
the sync's: a fixture for scale only — correctness is tested against the real reference
node. The registry is a clone of this repository in a temporary folder; every node has its
own adapter cache: the sync fetches and checks each artifact once, copies it into every
node's cache, and each node hashes its cached copy again before every later load.

Per node count it times, with ``sync_nodes`` (the function behind ``adapterctl sync``):
the first sync (cold caches), a promotion (staging: support-bot 1.2.0 at 100 %, 1.1.0
retained: fetch, verify, load, unload), a rollback (``git revert`` of it: 1.1.0 loads from
the cache) and the steady-state check of converged nodes (one ``GET /v1/models`` each),
with the ratio of each to one node's, the sync's CPU per node and the simulator's CPU.
Beside them, the floor: a promotion's four calls alone (``GET /v1/models``, load, unload,
``GET /v1/models``: the sync's own client, a connection per node, as many at once), with
no lock, fetch, check or record — what the promotion would take if everything but the
calls cost nothing.
Targets: a promotion of 100 nodes within 1.5× one node's, of 1,000 within 3×; the
steady-state check of 1,000 nodes under 2 s.
Usage: ``python bench/sync.py [--nodes 1,10,100,1000] [--load-latency 0.2] [--parallel N]``
(default parallelism: the sync's own default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import syncnodes
from adapterctl.registry import Registry
from adapterctl.serving.nodeconfig import Node, load_node
from adapterctl.serving.reconcile import client_for
from adapterctl.serving.sync import SyncOptions, sync_nodes
from adapterctl.serving.vllm import MAX_PARALLEL, each_node, session
from summary import figure

REPO = Path(__file__).resolve().parents[1]
STEPS = ("cold", "promotion", "rollback", "steady")
FLOOR = "calls only"
RATIO_TARGETS = {100: 1.5, 1000: 3.0}
"""Node count → the most a promotion may take, as a multiple of one node's."""
STEADY_TARGET = (1000, 2.0)
"""The steady-state check of this many nodes takes under this many seconds."""
PROMOTION = (
    "    - {version: 1.1.0, weight: 100}\n  sql",
    "    - {version: 1.2.0, weight: 100}\n    - {version: 1.1.0, weight: 0}\n  sql",
)


@dataclass(frozen=True)
class Step:
    wall_s: float
    cpu_s: float
    """This process's CPU (the sync's, every thread)."""
    sim_cpu_s: float
    """The simulator's CPU."""


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
    path = folder / f"node-{index:04d}.yaml"
    path.write_text(
        f"name: node-{index:04d}\nenvironment: staging\nendpoint: {endpoint}\n"
        f"base: {{path: {base}, served_name: tiny-llama}}\ncache_dir: cache-{index:04d}\n"
        f"store: {store.as_uri()}\ntrust: {{adapters: {REPO / 'examples/trust.yaml'}}}\n"
    )
    return load_node(path)


def timed(root: Path, nodes: list[Node], parallel: int, sim_port: int) -> Step:
    sim_before = syncnodes.cpu_seconds(sim_port)
    cpu_before = time.process_time()
    started = time.perf_counter()
    _, results = sync_nodes(root, "staging", nodes, SyncOptions(parallel=parallel))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    failed = [r for r in results if not r.ok]
    if failed:
        sys.exit(f"sync failed on {failed[0].node}: {failed[0].reason}: {failed[0].message}")
    return Step(elapsed, cpu, syncnodes.cpu_seconds(sim_port) - sim_before)


def calls_only(nodes: list[Node], parallel: int, sim_port: int) -> Step:
    """A promotion's four calls on every node, and nothing else."""

    async def promote(node: Node) -> None:
        async with session() as http:
            client = client_for(node, http)
            await client.models()
            await client.load("floor@1.0.0", str(node.cache_dir))
            await client.unload("floor@1.0.0")
            await client.models()

    async def every() -> None:
        await each_node(nodes, parallel, promote)

    sim_before = syncnodes.cpu_seconds(sim_port)
    cpu_before = time.process_time()
    started = time.perf_counter()
    asyncio.run(every())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    return Step(elapsed, cpu, syncnodes.cpu_seconds(sim_port) - sim_before)


def run(count: int, latency: float, parallel: int, work: Path) -> dict[str, Step]:
    root = work / "registry"
    git(work, "clone", "-q", str(REPO), str(root))
    base = base_path()
    process, ports = syncnodes.start(count, latency, str(base))
    try:
        store = root / "examples/store"
        endpoints = [f"http://127.0.0.1:{port}/v1" for port in ports]
        nodes = [node_config(work, i, e, base, store) for i, e in enumerate(endpoints)]
        steps = {"cold": timed(root, nodes, parallel, ports[0])}
        env_file = root / "environments/staging/environment.yaml"
        env_file.write_text(env_file.read_text().replace(*PROMOTION))
        git(root, "commit", "-q", "-am", "Promote support-bot 1.2.0")
        steps["promotion"] = timed(root, nodes, parallel, ports[0])
        git(root, "revert", "--no-edit", "HEAD")
        steps["rollback"] = timed(root, nodes, parallel, ports[0])
        steps["steady"] = timed(root, nodes, parallel, ports[0])
        steps[FLOOR] = calls_only(nodes, parallel, ports[0])
    finally:
        process.kill()
        process.wait()
    return steps


def report(count: int, steps: dict[str, Step], single: dict[str, Step]) -> None:
    cells = [f"{steps[s].wall_s:6.2f} {steps[s].wall_s / single[s].wall_s:5.1f}×"
             for s in (*STEPS, FLOOR)]  # fmt: skip
    cpu = sum(steps[s].cpu_s for s in STEPS[:3]) / count * 1000
    sim = sum(steps[s].sim_cpu_s for s in STEPS[:3])
    print(f"{count:>6}  " + "  ".join(cells) + f"  {cpu:8.2f}  {sim:6.2f}", flush=True)
    promotion, one = steps["promotion"].wall_s, single["promotion"].wall_s
    limit = RATIO_TARGETS.get(count)
    floor = steps[FLOOR].wall_s / single[FLOOR].wall_s
    figure("sync", f"{count} nodes: promotion / rollback",
           f"{promotion:.2f} s / {steps['rollback'].wall_s:.2f} s",
           peer=f"1 node {one:.2f} s; its four calls alone {floor:.2f}× one node's",
           ratio=f"{promotion / one:.2f}×", target="" if limit is None else f"≤ {limit:g}×",
           met=None if limit is None else promotion / one <= limit)  # fmt: skip
    if count == STEADY_TARGET[0]:
        steady = steps["steady"].wall_s
        figure("sync", f"steady-state check, {count} nodes", f"{steady:.2f} s",
               target=f"< {STEADY_TARGET[1]:g} s", met=steady < STEADY_TARGET[1])  # fmt: skip


def verdicts(table: dict[int, dict[str, Step]]) -> None:
    one = table[min(table)]["promotion"].wall_s
    for count, limit in RATIO_TARGETS.items():
        if count in table:
            ratio = table[count]["promotion"].wall_s / one
            floor = table[count][FLOOR].wall_s / table[min(table)][FLOOR].wall_s
            print(f"promotion of {count} nodes: {ratio:.2f}× one node's "
                  f"(target ≤ {limit:g}×: {'met' if ratio <= limit else 'MISSED'}); "
                  f"its four calls alone: {floor:.2f}×")  # fmt: skip
    count, limit_s = STEADY_TARGET
    if count in table:
        steady = table[count]["steady"].wall_s
        print(f"steady-state check of {count} nodes: {steady:.2f} s "
              f"(target < {limit_s:g} s: {'met' if steady < limit_s else 'MISSED'})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,10,100,1000")
    parser.add_argument("--load-latency", type=float, default=0.2)
    parser.add_argument("--parallel", type=int, default=MAX_PARALLEL)
    args = parser.parse_args()
    counts = [int(n) for n in args.nodes.split(",")]
    print(f"sync: load latency {args.load_latency:g} s, parallel {args.parallel}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("wall seconds, and the ratio to the first row's; sync CPU ms per node and simulator "
          "CPU s over cold + promotion + rollback")  # fmt: skip
    print(f"{'nodes':>6}  " + "  ".join(f"{s:>12}" for s in (*STEPS, FLOOR)) + "  cpu ms/n  sim s")
    table: dict[int, dict[str, Step]] = {}
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="adapterctl-bench-sync-") as tmp:
            table[count] = run(count, args.load_latency, args.parallel, Path(tmp))
        report(count, table[count], table[counts[0]])
    verdicts(table)


if __name__ == "__main__":
    main()
