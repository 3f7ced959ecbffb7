"""Benchmark: merge to converged against real vLLM for 1, 4 and 8 adapters on one node.

One vLLM server (bench/vllm_node.py's command: the example base, runtime LoRA updates,
rank 64, 4 GPU-side and 8 CPU-side slots, an API key) serves the whole run. The registry
is a clone of this repository in a temporary folder with 8 extra adapter lines, bench-1 to
bench-8, each one revision on tiny-llama@r1 with its own bytes (the example kit's
generator, seeds 1001-1008), registered and signed with the example trainer key through
the CLI (not timed). staging's routes are replaced by N of them at 100 % (support-bot and
sql-helper are dropped, so exactly N adapters are desired) and committed; then, with the
node reset before each run (no adapter loaded, a fresh empty cache), it times:

- CLI merge→converged: ``adapterctl sync --env staging --node-config NODE.yaml`` as a
  process, from the commit to its exit 0, process start-up included;
- in-process cold: ``sync_nodes`` (the function behind the CLI), same start and end;
- warm cache: the same after unloading every adapter but keeping the node's cache, so
  nothing is fetched and no signature is verified (the cached copy is still re-hashed);
- vLLM loads alone: ``POST /v1/load_lora_adapter`` of the same N cached artifacts under
  fresh names, then ``/v1/models``, with adapterctl's client (vLLM's own cost).

Every sync is confirmed in ``/v1/models``. Derived, as the median of each run's
difference: fetch + signature check = cold − warm; the rest = warm − loads alone (git
reading, trust anchors, the node lock, the re-hash of the cache, ``/v1/models``, the sync
record); CLI start = CLI − in-process cold (the process's start-up and imports). The
same table again from each measure's fastest run, the least disturbed by other work on a
shared machine. Also shown, each alone: the loads inside the cold sync (``on_load``), the
SHA-256 of the N artifacts, copying them out of the store, reading the desired state from
git, and ``adapterctl sync --help`` as a process (start-up and imports, no work). One untimed load
and one untimed sync first, so vLLM's first load and this process's first imports are not
counted in the in-process figures. Medians of ``--repeats``. Skips (exit 0, said) where
``make vllm`` has not installed vLLM.
Usage: ``python bench/vllm_sync.py [--repeats 7] [--counts 1,4,8] [--rank 8]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples, tests
from adapterctl.cli.app import main as adapterctl_main
from adapterctl.serving.desired import desired_state
from adapterctl.serving.nodeconfig import Node, load_node
from adapterctl.serving.sync import SyncOptions, sync_nodes
from adapterctl.store.digests import sha256_file
from adapterctl.store.filestore import FileStore
from examples.kit import AdapterSpec, BaseSpec, make_adapter
from summary import figure
from sync import git
from tests.refnode import artifact
from tests.syncnode import base_path
from vllm_node import KEY, VLLM_PYTHON, BlockingClient, free_port, start, stop, vllm_command

REPO = Path(__file__).resolve().parent.parent
LINES = 8
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
ADAPTERCTL = Path(sys.executable).with_name("adapterctl")
KEY_ENV = "ADAPTERCTL_BENCH_VLLM_KEY"
TRAINER_KEY = REPO / "examples/keys/train-pipeline.pem"
LINE_YAML = """\
# yaml-language-server: $schema=../../schemas/adapter-line.schema.json
name: {name}
description: A benchmark line (bench/vllm_sync.py).
owners: ["@example-org/ml-team"]
product_owner: "@example-org/ml-team"
golden_suites: []
"""
COLUMNS = ("cli", "cold", "warm", "alone")


@dataclass
class Count:
    """One adapter count's runs, seconds each."""

    cli: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    alone: list[float] = field(default_factory=list)
    in_sync_loads: list[float] = field(default_factory=list)
    """The vLLM loads inside each cold in-process sync (``on_load``), summed."""
    hashing: list[float] = field(default_factory=list)
    fetch: list[float] = field(default_factory=list)
    help: list[float] = field(default_factory=list)
    """``adapterctl sync --help`` as a process: start-up and imports, no work."""
    git_read: list[float] = field(default_factory=list)
    artifact_kib: float = 0.0

    def median(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return statistics.median(values)

    def paired(self, minuend: str, subtrahend: str) -> float:
        """The median of the runs' differences (each pair measured a moment apart)."""
        one: list[float] = getattr(self, minuend)
        other: list[float] = getattr(self, subtrahend)
        return statistics.median(a - b for a, b in zip(one, other, strict=True))


def cli(*args: str) -> None:
    """Run the CLI in this process, its report kept out of the benchmark's."""
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown):
        code = adapterctl_main(list(args))
    if code != 0:
        raise SystemExit(f"adapterctl {' '.join(args)}: exit {code}\n{shown.getvalue()}")


def build_registry(work: Path, rank: int) -> Path:
    """A clone of this repository with bench-1..8 registered, signed and committed."""
    root = work / "registry"
    git(work, "clone", "-q", str(REPO), str(root))
    manifest = yaml.safe_load((REPO / "adapters/support-bot/1.1.0.yaml").read_text("utf-8"))
    record = work / "training.yaml"
    record.write_text(yaml.safe_dump(manifest["training"], sort_keys=False), encoding="utf-8")
    spec = BaseSpec(arch="llama")
    for i in range(1, LINES + 1):
        name = f"bench-{i}"
        folder = work / "handover" / name
        make_adapter(folder, spec, AdapterSpec(rank=rank, alpha=2 * rank, seed=1000 + i,
                                               target_modules=TARGETS))  # fmt: skip
        (root / "adapters" / name).mkdir(parents=True)
        (root / "adapters" / name / "adapter.yaml").write_text(LINE_YAML.format(name=name))
        cli("register", str(folder), "--name", name, "--version", "1.0.0",
            "--base", "tiny-llama@r1", "--training", str(record), "--root", str(root),
            "--description", f"Benchmark adapter {i} (seed {1000 + i}).")  # fmt: skip
        cli("sign", f"{name}@1.0.0", "--key", str(TRAINER_KEY), "--root", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"Add {LINES} benchmark adapter lines")
    return root


def route(root: Path, count: int) -> list[str]:
    """Commit staging routing bench-1..count at 100 % (nothing else); their served names."""
    env_file = root / "environments/staging/environment.yaml"
    names = [f"bench-{i}" for i in range(1, count + 1)]
    routes = "".join(f"  {name}:\n    - {{version: 1.0.0, weight: 100}}\n" for name in names)
    text = re.sub(r"(?ms)^routes:\n.*?^(?=retain:)", "routes:\n" + routes, env_file.read_text())
    env_file.write_text(text, encoding="utf-8")
    git(root, "commit", "-q", "--allow-empty", "-am", f"Route {count} benchmark adapters")
    return [f"{name}@1.0.0" for name in names]


def node_config(folder: Path, endpoint: str, store: Path) -> tuple[Path, Node]:
    """A node configuration with a fresh, empty cache folder of its own."""
    folder.mkdir(parents=True)
    path = folder / "node.yaml"
    path.write_text(
        f"name: bench-node\nenvironment: staging\nendpoint: {endpoint}\n"
        f"api_key_env: {KEY_ENV}\nbase: {{path: {base_path()}, served_name: tiny-llama}}\n"
        f"cache_dir: {folder / 'cache'}\nstore: {store.as_uri()}\n"
        f"trust: {{adapters: {REPO / 'examples/trust.yaml'}}}\n"
    )
    return path, load_node(path)


def loaded(client: BlockingClient) -> dict[str, str]:
    """Adapter name → root, as /v1/models lists them."""
    return {card.id: card.root for card in client.models() if card.parent is not None}


def reset(client: BlockingClient) -> None:
    for name in loaded(client):
        client.unload(name)


def confirm(client: BlockingClient, names: list[str]) -> dict[str, str]:
    shown = loaded(client)
    if sorted(shown) != sorted(names):
        raise SystemExit(f"/v1/models shows {sorted(shown)}, expected {sorted(names)}")
    return shown


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def hash_all(files: list[Path]) -> list[str]:
    return [sha256_file(path) for path in files]


def fetch_all(store: FileStore, digests: list[str], into: Path) -> None:
    for digest in digests:
        store.fetch(digest, into / digest.removeprefix("sha256:"))


def in_process(root: Path, node: Node, loads: list[float] | None = None) -> None:
    def on_load(_node: str, seconds: float) -> None:
        if loads is not None:
            loads.append(seconds)

    _, results = sync_nodes(root, "staging", [node], SyncOptions(on_load=on_load))
    if not results[0].ok:
        raise SystemExit(f"sync failed: {results[0].reason}: {results[0].message}")


def by_cli(root: Path, config: Path) -> None:
    command = [str(ADAPTERCTL), "sync", "--env", "staging", "--node-config", str(config),
               "--root", str(root)]  # fmt: skip
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"adapterctl sync: exit {done.returncode}\n{done.stdout}{done.stderr}")


def measure(root: Path, client: BlockingClient, count: int, repeats: int, work: Path) -> Count:
    names = route(root, count)
    store = root / "examples/store"
    figures = Count()
    for run in range(repeats):
        reset(client)
        config, node = node_config(work / f"n{count}-cli-{run}", client.endpoint, store)
        figures.cli.append(timed(partial(by_cli, root, config)))
        confirm(client, names)

        reset(client)
        config, node = node_config(work / f"n{count}-lib-{run}", client.endpoint, store)
        loads: list[float] = []
        figures.cold.append(timed(partial(in_process, root, node, loads)))
        figures.in_sync_loads.append(sum(loads))
        confirm(client, names)

        reset(client)  # the cache stays: nothing to fetch, no signature to verify
        figures.warm.append(timed(partial(in_process, root, node)))
        roots = confirm(client, names)

        reset(client)

        def alone(roots: dict[str, str] = roots) -> None:
            for name, path in roots.items():
                client.load(f"alone-{name}", path)
            confirm(client, [f"alone-{name}" for name in roots])

        figures.alone.append(timed(alone))
        reset(client)

        files = [path for folder in roots.values() for path in sorted(Path(folder).iterdir())]
        figures.hashing.append(timed(partial(hash_all, files)))
        figures.artifact_kib = sum(path.stat().st_size for path in files) / count / 1024
        figures.git_read.append(timed(partial(desired_state, root, "staging")))
        digests = [revision.digest for revision in desired_state(root, "staging").revisions]
        into = work / f"n{count}-fetch-{run}"
        figures.fetch.append(timed(partial(fetch_all, FileStore(store, store.as_uri()),
                                           digests, into)))  # fmt: skip
        shutil.rmtree(into)
        help_command = [str(ADAPTERCTL), "sync", "--help"]
        figures.help.append(timed(partial(subprocess.run, help_command, check=True,
                                          capture_output=True)))  # fmt: skip
    for run in range(repeats):  # the node folders of this count are no longer needed
        shutil.rmtree(work / f"n{count}-cli-{run}", ignore_errors=True)
        shutil.rmtree(work / f"n{count}-lib-{run}", ignore_errors=True)
    return figures


def runs(count: int, figures: Count) -> None:
    """Each run's wall time, so the spread behind the medians shows."""
    print(f"{count} adapter(s), each run's ms:")
    for name in COLUMNS:
        print(f"  {name:>5}: " + " ".join(f"{s * 1000:.0f}" for s in getattr(figures, name)))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.0f}"


def report(table: dict[int, Count]) -> None:
    print("\nmedian ms; medians of each run's difference: fetch+sig = cold − warm; "
          "rest = warm − vLLM loads alone; CLI start = CLI − cold")  # fmt: skip
    print(f"{'N':>3} {'CLI merge→conv':>14} {'in-proc cold':>12} {'warm cache':>10} "
          f"{'vLLM loads':>10} {'fetch+sig':>9} {'rest':>8} {'CLI start':>9}")  # fmt: skip
    for count, f in table.items():
        cli_s, cold, warm, alone = (f.median(name) for name in COLUMNS)
        fetch_sig, rest = f.paired("cold", "warm"), f.paired("warm", "alone")
        print(f"{count:>3} {ms(cli_s):>14} {ms(cold):>12} {ms(warm):>10} {ms(alone):>10} "
              f"{ms(fetch_sig):>9} {ms(rest):>8} {ms(f.paired('cli', 'cold')):>9}")  # fmt: skip
    print("\nfastest run of each (where other work on the machine adds noise, the least "
          "disturbed); the differences are of the fastest runs")  # fmt: skip
    print(f"{'N':>3} {'CLI merge→conv':>14} {'in-proc cold':>12} {'warm cache':>10} "
          f"{'vLLM loads':>10} {'fetch+sig':>9} {'rest':>8} {'CLI start':>9}")  # fmt: skip
    for count, f in table.items():
        cli_s, cold, warm, alone = (min(getattr(f, name)) for name in COLUMNS)
        print(f"{count:>3} {ms(cli_s):>14} {ms(cold):>12} {ms(warm):>10} {ms(alone):>10} "
              f"{ms(cold - warm):>9} {ms(warm - alone):>8} {ms(cli_s - cold):>9}")  # fmt: skip
    print("\nparts alone: vLLM loads within the cold sync; SHA-256 of the N artifacts; "
          "copying them out of the store; the desired state read from git; "
          "adapterctl sync --help as a process")  # fmt: skip
    print(f"{'N':>3} {'loads in sync':>13} {'per load':>8} {'hash N':>8} {'fetch N':>8} "
          f"{'KiB each':>8} {'git read':>8} {'sync --help':>11}")  # fmt: skip
    for count, f in table.items():
        in_sync = f.median("in_sync_loads")
        print(f"{count:>3} {ms(in_sync):>13} {ms(in_sync / count):>8} "
              f"{f.median('hashing') * 1000:8.2f} {f.median('fetch') * 1000:8.2f} "
              f"{f.artifact_kib:8.0f} "
              f"{ms(f.median('git_read')):>8} {ms(f.median('help')):>11}")  # fmt: skip
    for count, f in table.items():
        cli_s, cold, warm, alone = (f.median(name) for name in COLUMNS)
        plural = "s" if count > 1 else ""
        figure("vllm_sync", f"{count} adapter{plural}: merge→converged (CLI)",
               f"{cli_s * 1000:.0f} ms", peer=f"vLLM loads alone {alone * 1000:.0f} ms",
               ratio=f"{cli_s / alone:.2f}×")  # fmt: skip
        figure("vllm_sync", f"{count} adapter{plural}: in-process cold / warm cache",
               f"{cold * 1000:.0f} ms / {warm * 1000:.0f} ms",
               peer=f"fetch+sig {f.paired('cold', 'warm') * 1000:.0f} ms, "
                    f"rest {f.paired('warm', 'alone') * 1000:.0f} ms")  # fmt: skip


def missing() -> str | None:
    if not VLLM_PYTHON.is_file():
        return f"vLLM not installed ({VLLM_PYTHON} not found): run `make vllm`"
    installed = (VLLM_PYTHON.parent.parent / ".installed-vllm").is_file()
    if not installed and not os.environ.get("ADAPTERCTL_VLLM_PYTHON"):
        return f"vLLM's install in {VLLM_PYTHON.parent.parent} did not finish: run `make vllm`"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--counts", default="1,4,8")
    parser.add_argument("--rank", type=int, default=8, help="the bench adapters' LoRA rank")
    args = parser.parse_args()
    counts = [int(n) for n in args.counts.split(",")]
    if max(counts) > LINES:
        parser.error(f"at most {LINES} adapters")
    reason = missing()
    if reason is not None:
        print(f"vllm_sync: skipped: {reason}")
        return 0
    os.environ[KEY_ENV] = KEY
    print(f"vllm_sync: {args.repeats} repeats, rank {args.rank}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-vsync-") as tmp:
        work = Path(tmp)
        root = build_registry(work, args.rank)
        port = free_port()
        process, startup = start(vllm_command(port), port, work / "vllm.log")
        print(f"vLLM up in {startup:.1f} s", flush=True)
        client = BlockingClient(f"http://127.0.0.1:{port}/v1", KEY)
        try:
            client.load("warm-up", str(artifact("support-bot@1.1.0")))  # vLLM's first load
            client.unload("warm-up")
            _, node = node_config(work / "warm-up", client.endpoint, root / "examples/store")
            route(root, 1)
            in_process(root, node)  # this process's first sync (imports, first verification)
            reset(client)
            table: dict[int, Count] = {}
            for count in counts:
                table[count] = measure(root, client, count, args.repeats, work)
                runs(count, table[count])
        finally:
            client.close()
            stop(process)
    report(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
