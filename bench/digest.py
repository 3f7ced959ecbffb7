"""Benchmark: ``digest_directory`` against model-signing and against the machine's limit.

Creates in a temporary directory (a) an artifact holding one file of ``--size-gb`` GB and
(b) an artifact of 4 files of a quarter of that each (random bytes from numpy's
``default_rng(0)``, written once), reads them once to warm the page cache, then measures
in the same run, interleaved round by round (best of ``--repeat`` rounds):

- single-core in-memory SHA-256 (hashlib over a 256 MiB buffer) × cores: the limit;
- adapterctl ``digest_directory`` without a cache on (a) and (b);
- model-signing ``hashing.Config().use_file_serialization().hash()`` on (a) and (b);
- a second adapterctl check of (b) with a warm digest cache (milliseconds).

Prints a table in GB/s and the ratios against their targets, then removes its files.
Usage: ``python bench/digest.py [--size-gb 2] [--repeat 3] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from model_signing import hashing
from model_signing._signing.signing import Payload

from adapterctl.store.digests import DigestCache, digest_directory
from summary import figure

GB = 10**9
BLOCK = 64 << 20
_config: Callable[[], hashing.Config] = hashing.Config  # unannotated __init__


def write_random(path: Path, size: int, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for start in range(0, size, BLOCK):
            handle.write(rng.bytes(min(BLOCK, size - start)))


def warm(root: Path) -> None:
    buffer = memoryview(bytearray(BLOCK))
    for path in sorted(root.rglob("*.bin")):
        with path.open("rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def hash_buffer(data: bytes) -> None:
    hashlib.sha256(data).digest()


def model_signing_digest(path: Path) -> str:
    manifest = _config().use_file_serialization().hash(path)
    return "sha256:" + str(Payload(manifest).statement.pb.subject[0].digest["sha256"])


def cached_ms(path: Path, cache: DigestCache, repeat: int) -> tuple[float, float]:
    """Best and median milliseconds of a re-check with a warm cache."""
    digest_directory(path, cache=cache)
    times = []
    for _ in range(max(repeat, 5)):
        start = time.perf_counter()
        digest_directory(path, cache=cache)
        times.append((time.perf_counter() - start) * 1000)
    return min(times), statistics.median(times)


def run(root: Path, size: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    single, split = root / "single", root / "split"
    write_random(single / "model.bin", size, rng)
    for index in range(4):
        write_random(split / f"shard-{index}.bin", size // 4, rng)
    warm(root)
    for path in (single, split):
        assert digest_directory(path).digest == model_signing_digest(path), path
    best = measure(single, split, repeat)
    limit = 256 * 2**20 / GB / best["limit"]
    ours = {"single": size / GB / best["ours-single"], "split": size / GB / best["ours-split"]}
    theirs = {"single": size / GB / best["ms-single"], "split": size / GB / best["ms-split"]}
    cached = cached_ms(split, DigestCache(root / "cache" / "digests.sqlite"), repeat)
    report(size, os.cpu_count() or 1, limit, ours, theirs, cached)


def measure(single: Path, split: Path, repeat: int) -> dict[str, float]:
    """Best seconds of each measurement, interleaved round by round (fair under noise)."""
    data = np.random.default_rng(1).bytes(256 * 2**20)
    actions: dict[str, Callable[[], object]] = {
        "limit": partial(hash_buffer, data),
        "ours-single": partial(digest_directory, single),
        "ms-single": partial(model_signing_digest, single),
        "ours-split": partial(digest_directory, split),
        "ms-split": partial(model_signing_digest, split),
    }
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            times[name].append(timed(action))
    return {name: min(values) for name, values in times.items()}


def report(
    size: int,
    cores: int,
    limit: float,
    ours: dict[str, float],
    theirs: dict[str, float],
    cached: tuple[float, float],
) -> None:
    print(f"{size / GB:.2f} GB, {cores} cores; figures in GB/s (best run)")
    print(f"{'':36}{'(a) 1 file':>12}{'(b) 4 files':>12}")
    print(f"{'SHA-256 in memory, 1 core / all':36}{limit:12.3f}{limit * cores:12.3f}")
    print(f"{'adapterctl digest_directory':36}{ours['single']:12.3f}{ours['split']:12.3f}")
    print(f"{'model-signing file serialization':36}{theirs['single']:12.3f}{theirs['split']:12.3f}")
    print(f"cached re-check of (b): {cached[0]:.2f} ms best, {cached[1]:.2f} ms median")
    ratio = ours["split"] / theirs["split"]
    share = ours["single"] / limit * 100
    spread = ours["split"] / limit / cores * 100
    _line("adapterctl / model-signing on (b)", f"{ratio:.2f} x", ">= 1.2 x", ratio >= 1.2)
    _line("adapterctl on (a) / 1-core limit", f"{share:.1f} %", ">= 90 %", share >= 90)
    _line("adapterctl on (b) / all-core limit", f"{spread:.1f} %", None, True)
    ceiling = limit * cores / theirs["split"]
    _line("best possible ratio on (b) (limit / m-s)", f"{ceiling:.2f} x", None, True)
    _line("cached re-check of (b)", f"{cached[0]:.2f} ms", "< 50 ms", cached[0] < 50)
    figure("digest", f"{size / GB:.1f} GB in 4 files", f"{ours['split']:.2f} GB/s",
           peer=f"model-signing {theirs['split']:.2f} GB/s", ratio=f"{ratio:.2f}×",
           target="≥ 1.2×", met=ratio >= 1.2)  # fmt: skip
    figure("digest", "1 file / 1-core SHA-256 limit", f"{share:.1f} %", target="≥ 90 %",
           met=share >= 90)  # fmt: skip


def _line(label: str, value: str, target: str | None, passed: bool) -> None:
    verdict = "" if target is None else f"(target {target}) {'ok' if passed else 'MISSED'}"
    print(f"{label:36}{value:>10}   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to create the files")
    args = parser.parse_args()
    size = int(args.size_gb * GB) // (4 * 4096) * 4 * 4096
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-", dir=args.dir) as tmp:
        run(Path(tmp), size, args.repeat)


if __name__ == "__main__":
    main()
