"""Benchmark: ``adapterctl history --env prod`` and ``adapterctl gc`` on a long history.

Builds in a temporary directory, with one ``git fast-import`` process, a registry
repository whose ``environments/prod/environment.yaml`` is changed by ``--commits``
promotion commits (each routes one of 40 aliases to a new version, with the promotion
trailers; every tenth subject names a squash-merged pull request) across ``--revisions``
revision versions (one valid revision manifest each in the first commit). Then times, as
subprocesses with start-up included, ``adapterctl history --format json`` (checking that
it reported every commit) and ``adapterctl gc --keep-states 5 --format json`` planning
against a file store holding every tenth revision's artifact (checking that each stored
artifact was classified, and that the routed ones are kept). Target: under 5 s each for
5,000 commits and 2,000 revisions.
Usage: ``python bench/history.py [--commits 5000] [--revisions 2000] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from summary import figure

ALIASES = 40
TARGET_S = 5.0
KEEP_STATES = 5
STORED_EVERY = 10
"""The store holds the artifact of every tenth revision."""
ENV_PATH = "environments/prod/environment.yaml"
HEADER = (
    "name: prod\nbase: {name: tiny-llama, revision: r1}\n"
    "serving: {engine: vllm, max_lora_rank: 64, max_loras: 8}\nroutes:\n"
)


def version(index: int) -> tuple[str, str]:
    """The alias and version of revision ``index``."""
    return f"line-{index % ALIASES:02d}", f"1.{index // ALIASES}.0"


def environment(routes: dict[str, str], number: int) -> str:
    """The file after promotion ``number`` (its comment makes every blob distinct)."""
    lines = [f"  {alias}:\n    - {{version: {routes[alias]}, weight: 100}}\n" for alias in routes]
    return f"# promotion {number}\n" + HEADER + "".join(lines)


def artifact_digest(index: int) -> str:
    return "sha256:" + hashlib.sha256(b"artifact %d" % index).hexdigest()


def manifest(index: int) -> str:
    """A valid revision manifest for revision ``index`` (its artifact digest is made up)."""
    alias, ver = version(index)
    file_digest = "sha256:" + hashlib.sha256(b"file %d" % index).hexdigest()
    return (
        f"name: {alias}\nversion: {ver}\ncreated: 2024-01-01T00:00:00Z\n"
        f"description: Bench revision {index}.\n"
        "base: {name: tiny-llama, revision: r1}\n"
        f"artifact:\n  format: peft-lora\n  digest: {artifact_digest(index)}\n"
        f"  files:\n    adapter_model.safetensors: {{digest: {file_digest}, size: 16}}\n"
        "lora: {rank: 8, alpha: 16.0, target_modules: [q_proj, v_proj]}\n"
        f"tokenizer_digest: {file_digest}\nchat_template_digest: {file_digest}\n"
        "quantization: none\ntraining:\n"
        "  recipe: {code: git+https://example.internal/r@1, seed: 1}\n"
        "  datasets: [{id: bench, digest: " + file_digest + "}]\n"
        "  data_scope: Bench data.\n  trained_by: svc-train-pipeline\n"
    )


def data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def stream(commits: int, revisions: int) -> Iterator[bytes]:
    """A fast-import stream: one commit of revision manifests, then the promotions."""
    routes = dict(version(index) for index in range(ALIASES))
    when = 1_700_000_000
    yield b"commit refs/heads/main\n"
    yield b"committer Bench <bench@example.com> %d +0000\n" % when
    yield data("Register revisions")
    yield b"M 100644 inline pyproject.toml\n" + data("[tool.adapterctl]\n")
    for index in range(revisions):
        alias, ver = version(index)
        path = f"adapters/{alias}/{ver}.yaml"
        yield f"M 100644 inline {path}\n".encode() + data(manifest(index))
    yield f"M 100644 inline {ENV_PATH}\n".encode() + data(environment(routes, 0))
    for number in range(commits):
        alias, ver = version((ALIASES + number) % revisions)
        routes[alias] = ver
        pr = f" (#{number})" if number % 10 == 0 else ""
        message = (
            f"Promote {alias} {ver} to prod{pr}\n\n"
            f"Adapter: {alias}@{ver}\nEnvironment: prod\nWeight: 100\n"
        )
        yield b"commit refs/heads/main\n"
        yield b"committer Bench <bench@example.com> %d +0000\n" % (when + 60 * (number + 1))
        yield data(message)
        yield f"M 100644 inline {ENV_PATH}\n".encode() + data(environment(routes, number + 1))


def build(folder: Path, commits: int, revisions: int) -> None:
    git = ["git", "-C", str(folder)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run(
        [*git, "fast-import", "--quiet"], input=b"".join(stream(commits, revisions)), check=True
    )
    subprocess.run([*git, "reset", "-q", "--hard", "main"], check=True)


def make_store(folder: Path, revisions: int) -> None:
    """A file store holding every ``STORED_EVERY``-th revision's (tiny) artifact."""
    for index in range(0, revisions, STORED_EVERY):
        artifact = folder / "sha256" / artifact_digest(index).removeprefix("sha256:")
        artifact.mkdir(parents=True)
        (artifact / "adapter_model.safetensors").write_bytes(b"\0" * 16)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started, done.stdout


def check_gc(document: dict[str, list[dict[str, list[str]]]], revisions: int) -> str | None:
    """What is wrong with the gc plan, or None."""
    stored = len(range(0, revisions, STORED_EVERY))
    total = sum(len(document[part]) for part in ("kept", "delete", "unknown"))
    if total != stored:
        return f"gc classified {total} artifacts, not {stored}"
    kept = {rev for item in document["kept"] for rev in item["revisions"]}
    if not kept or not document["delete"] or document["unknown"]:
        return f"gc kept {len(kept)}, deleted {len(document['delete'])}: not a plausible plan"
    return None


def verdict(name: str, elapsed: float) -> str:
    ok = "ok" if elapsed < TARGET_S else "SLOWER than target"
    return f"{name}: {elapsed:.2f} s (target < {TARGET_S:.0f} s: {ok})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    os.environ.update(env)
    adapterctl = [sys.executable, "-m", "adapterctl"]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        repo = Path(tmp) / "registry"
        repo.mkdir()
        started = time.perf_counter()
        build(repo, args.commits, args.revisions)
        make_store(Path(tmp) / "store", args.revisions)
        built = time.perf_counter() - started
        command = [*adapterctl, "history", "--env", "prod", "--format", "json", "--root", str(repo)]
        elapsed, out = timed(command, env)
        command = [*adapterctl, "gc", "--keep-states", str(KEEP_STATES), "--format", "json"]
        command += ["--store", f"file://{tmp}/store", "--root", str(repo)]
        gc_elapsed, gc_out = timed(command, env)
    entries = json.loads(out)["entries"]
    if len(entries) != args.commits + 1:
        print(f"history reported {len(entries)} commits, not {args.commits + 1}")
        return 1
    problem = check_gc(json.loads(gc_out), args.revisions)
    if problem is not None:
        print(problem)
        return 1
    print(f"built {args.commits} commits, {args.revisions} revisions in {built:.2f} s")
    print(verdict("adapterctl history --format json", elapsed))
    print(verdict(f"adapterctl gc --keep-states {KEEP_STATES} --format json", gc_elapsed))
    what = f"{args.commits:,} commits, {args.revisions:,} revisions"
    figure("history", f"history, {what}", f"{elapsed:.2f} s", target=f"< {TARGET_S:g} s",
           met=elapsed < TARGET_S)  # fmt: skip
    figure("history", f"gc planning, {what}", f"{gc_elapsed:.2f} s", target=f"< {TARGET_S:g} s",
           met=gc_elapsed < TARGET_S)  # fmt: skip
    return 0 if max(elapsed, gc_elapsed) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
