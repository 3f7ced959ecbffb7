"""How many interleaved samples the golden gate needs to call a latency regression at the
noise of a real run (docs/golden.md, "Latency").

Reads golden evidence files (``reports/golden/NAME@VERSION.json``, written by ``adapterctl
eval``) of a candidate that is as fast as its baseline, and takes their (candidate,
baseline) latencies of the same case and repeat as the node's noise, as measured: each
simulated run draws ``n`` such pairs with replacement, makes the candidate ``slower`` times
slower, and asks for a verdict against a limit of ``limit`` × the baseline — paired
(:func:`adapterctl.latency.compare_paired`, what the golden gate does) and, for contrast,
unpaired (:func:`adapterctl.latency.compare`). Prints, per ``n``, the share of runs that
fail (the test's power) and the share whose verdict is inconclusive.

    .venv/bin/python bench/latency_power.py reports/golden/support-bot@1.1.0.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from adapterctl.latency import RatioLimit, Verdict, compare, compare_paired

RUNS = 2000
SIZES = (5, 7, 8, 10, 12, 15, 18, 24, 30)
CASES = ((1.5, 1.0, "1.5× slower, limit 1.0× (any slowdown)"),
         (2.25, 1.5, "2.25× slower, limit 1.5× (the example line)"),
         (1.0, 1.5, "no change, limit 1.5× (false failures)"))  # fmt: skip


def pairs(path: Path) -> list[tuple[float, float]]:
    """(candidate, baseline) latency of every case and repeat both answered."""
    document = json.loads(path.read_text("utf-8"))
    timed: dict[str, dict[tuple[str, str, int], float]] = {}
    for r in document["results"]:
        if r["answer"]["error"] is None:
            key = (r["suite"], r["case"], r["repeat"])
            timed.setdefault(r["revision"], {})[key] = r["answer"]["latency_ms"]
    new, old = timed[document["candidate"]], timed[document["baseline"]]
    return [(new[k], old[k]) for k in sorted(new.keys() & old.keys())]


def simulate(
    noise: list[tuple[float, float]], n: int, slower: float, limit: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(fail, inconclusive) shares, paired and unpaired."""
    rng = random.Random(n)
    ratio = RatioLimit(limit, 100.0 if limit > 1 else 0.0)
    tally = {"paired": [0, 0], "unpaired": [0, 0]}
    for _ in range(RUNS):
        drawn = [(c * slower, b) for c, b in (rng.choice(noise) for _ in range(n))]
        verdicts = {
            "paired": compare_paired(drawn, ratio, 95).verdict,
            "unpaired": compare([c for c, _ in drawn], [b for _, b in drawn], ratio, 95).verdict,
        }
        for kind, verdict in verdicts.items():
            tally[kind][0] += verdict is Verdict.FAIL
            tally[kind][1] += verdict is Verdict.INCONCLUSIVE
    paired, unpaired = ((f / RUNS, i / RUNS) for f, i in tally.values())
    return paired, unpaired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("evidence", nargs="+", type=Path)
    noise = [pair for path in parser.parse_args().evidence for pair in pairs(path)]
    ratios = sorted(c / b for c, b in noise)
    spread = sorted(b for _, b in noise)
    print(f"noise: {len(noise)} pairs; baseline {spread[0]:.0f}–{spread[-1]:.0f} ms, "
          f"candidate/baseline per pair {ratios[0]:.2f}–{ratios[-1]:.2f}")  # fmt: skip
    for slower, limit, label in CASES:
        print(f"\n{label}: share of {RUNS} simulated runs that fail (inconclusive)")
        for n in SIZES:
            (fail, unsure), (u_fail, u_unsure) = simulate(noise, n, slower, limit)
            print(f"  n = {n:>2}: paired fail {fail:6.1%} ({unsure:6.1%}), "
                  f"unpaired fail {u_fail:6.1%} ({u_unsure:6.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
