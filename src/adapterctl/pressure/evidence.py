"""The evidence file of a pressure run: every request as it was answered, the summaries and
the findings, for the promotion pull request to cite (docs/pressure.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from adapterctl.findings import Report
from adapterctl.fsutil import write_atomic
from adapterctl.pressure.pipeline import Setup
from adapterctl.pressure.results import Round
from adapterctl.pressure.schedule import Request
from adapterctl.pressure.stats import Percentiles, Summary, revision_stats
from adapterctl.report.json import finding_dict

FORMAT = "adapterctl/pressure-evidence@1"


def document(
    setup: Setup,
    rounds: Sequence[Round],
    report: Report,
    endpoint: str,
    hardware_class: str | None = None,
) -> dict[str, object]:
    """The evidence as a JSON-ready mapping; ``hardware_class`` is the node's."""
    revisions = [r for r in (setup.candidate, setup.baseline) if r is not None]
    return {
        "format": FORMAT,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": setup.environment,
        "endpoint": endpoint,
        "hardware_class": hardware_class,
        "profile": {"path": setup.path, **setup.profile.model_dump(mode="json")},
        "candidate": setup.candidate,
        "baseline": setup.baseline,
        "targets": setup.targets,
        "ok": not report.failed,
        "rounds": [_round(r) for r in rounds],
        "summaries": {
            revision: {"candidate": _summary(stats.candidate), "all": _summary(stats.all)}
            for revision in revisions
            for stats in [revision_stats(rounds, revision)]
        },
        "findings": [finding_dict(f) for f in report.findings],
        "schedule": [_request(r) for r in setup.requests],
        "samples": [asdict(s) for r in rounds for s in r.samples],
    }


def _request(request: Request) -> dict[str, object]:
    """A request of the schedule, without its prompt (the seed gives it back)."""
    return {
        "index": request.index,
        "offset_s": round(request.offset_s, 6),
        "target": request.target,
        "prompt_words": request.prompt_words,
        "max_tokens": request.max_tokens,
        "burst": request.burst,
    }


def _round(round_: Round) -> dict[str, object]:
    return {
        "number": round_.number,
        "revision": round_.revision,
        "requests": len(round_.samples),
        "wall_s": round(round_.wall_s, 4),
    }


def _summary(summary: Summary) -> dict[str, object]:
    return {
        "requests": summary.requests,
        "errors": summary.errors,
        "error_rate": round(summary.error_rate, 6),
        "wall_s": round(summary.wall_s, 4),
        "throughput_rps": round(summary.throughput_rps, 4),
        "output_tokens": summary.output_tokens,
        "output_tokens_per_s": round(summary.output_tokens_per_s, 4),
        "latency_ms": _percentiles(summary.latency_ms),
        "ttft_ms": _percentiles(summary.ttft_ms),
        "queue_ms": _percentiles(summary.queue_ms),
    }


def _percentiles(values: Percentiles) -> dict[str, float | None]:
    return {name: None if v is None else round(v, 3) for name, v in asdict(values).items()}


def write(
    path: Path,
    setup: Setup,
    rounds: Sequence[Round],
    report: Report,
    endpoint: str,
    hardware_class: str | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    evidence = document(setup, rounds, report, endpoint, hardware_class)
    text = json.dumps(evidence, indent=2, ensure_ascii=False)
    write_atomic(path, text + "\n")
