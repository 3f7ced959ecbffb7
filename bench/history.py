"""Benchmark: ``adapterctl history --env prod --format json`` on a long history.

Builds in a temporary directory, with one ``git fast-import`` process, a registry
repository whose ``environments/prod/environment.yaml`` is changed by ``--commits``
promotion commits (each routes one of 40 aliases to a new version, with the promotion
trailers; every tenth subject names a squash-merged pull request) across ``--revisions``
revision versions (one small manifest file each in the first commit). Then times
``adapterctl history`` as a subprocess, start-up included, and checks that it reported
every commit. Target: under 5 s for 5,000 commits and 2,000 revisions.
Usage: ``python bench/history.py [--commits 5000] [--revisions 2000] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ALIASES = 40
TARGET_S = 5.0
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
        yield f"M 100644 inline {path}\n".encode() + data(f"name: {alias}\nversion: {ver}\n")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    os.environ.update(env)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        repo = Path(tmp) / "registry"
        repo.mkdir()
        started = time.perf_counter()
        build(repo, args.commits, args.revisions)
        built = time.perf_counter() - started
        command = [sys.executable, "-m", "adapterctl", "history", "--env", "prod"]
        command += ["--format", "json", "--root", str(repo)]
        started = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, env=env)
        elapsed = time.perf_counter() - started
    entries = json.loads(done.stdout)["entries"]
    if len(entries) != args.commits + 1:
        print(f"history reported {len(entries)} commits, not {args.commits + 1}")
        return 1
    print(f"built {args.commits} commits, {args.revisions} revisions in {built:.2f} s")
    verdict = "ok" if elapsed < TARGET_S else "SLOWER than target"
    print(
        f"adapterctl history --format json: {elapsed:.2f} s (target < {TARGET_S:.0f} s: {verdict})"
    )
    return 0 if elapsed < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
