"""Run every benchmark (``make bench``), each beside its peer, then print one table.

Each benchmark's own report is shown as it runs; the ``BENCH`` summary lines they print
(:mod:`summary`) are collected into the final table: figure, peer, ratio, target.
Usage: ``python bench/run_all.py [NAME ...]`` (default: all, in the order below).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from summary import PREFIX

BENCHES = (
    "validate",
    "compat",
    "digest",
    "serve",
    "vllm_node",
    "vllm_sync",
    "eval",
    "verify",
    "history",
    "sync",
    "gateway",
    "canary",
    "merge",
)
HERE = Path(__file__).resolve().parent


def run(name: str) -> tuple[list[dict[str, object]], int, float]:
    print(f"\n=== bench/{name}.py", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(HERE / f"{name}.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    rows = []
    for line in process.stdout:
        if line.startswith(PREFIX):
            rows.append(json.loads(line.removeprefix(PREFIX)))
        else:
            print(line, end="", flush=True)
    return rows, process.wait(), time.perf_counter() - started


def table(rows: list[dict[str, object]]) -> str:
    headers = ("bench", "what", "adapterctl", "peer", "ratio", "target")
    cells = [headers] + [
        (
            str(row["bench"]),
            str(row["what"]),
            str(row["ours"]),
            str(row["peer"]),
            str(row["ratio"]),
            _target(row),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
             for line in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _target(row: dict[str, object]) -> str:
    if not row["target"]:
        return ""
    met = row["met"]
    return f"{row['target']} {'met' if met else 'MISSED' if met is False else ''}".rstrip()


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    rows: list[dict[str, object]] = []
    failed = []
    for name in names:
        found, code, seconds = run(name)
        rows += found
        print(f"--- bench/{name}.py: exit {code} in {seconds:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    print("\n" + table(rows))
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
