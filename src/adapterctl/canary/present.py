"""A canary analysis for people (text, markdown for a pull request) and machines (JSON)."""

from __future__ import annotations

import json
import math

from adapterctl.canary.analysis import Measurement, Result
from adapterctl.canary.traffic import Traffic
from adapterctl.report.json import finding_dict
from adapterctl.report.text import finding_block

FORMAT = "adapterctl.canary-analysis/v1"
HEADER = ("window", "UTC", "revision", "requests", "5xx", "p95", "p99", "TTFT p95", "tokens")


def heading(result: Result) -> list[str]:
    t = result.target
    windows = f"{t.analysis.count} window{'s' if t.analysis.count != 1 else ''}"
    return [
        f"canary analysis of {t.alias} in {t.env}: {t.pair.canary} (canary) against "
        f"{t.pair.stable} (stable)",
        f"from {result.source}, {windows} of {t.analysis.interval}; settings: {t.where}",
    ]


def table(result: Result) -> list[list[str]]:
    """One row per revision and window (header first)."""
    rows = [list(HEADER)]
    for m in result.measurements:
        span = m.window.label.split("(", 1)[1].removesuffix(" UTC)")
        for name, seen in ((result.target.pair.canary, m.canary), (result.target.pair.stable,
                                                                   m.stable)):  # fmt: skip
            rows.append([str(m.window.index), span, name, *_figures(seen)])
    return rows


def _figures(seen: Traffic) -> list[str]:
    mean = seen.mean_tokens
    return [
        str(seen.total),
        str(seen.errors),
        _ms(seen.duration.percentile(95)),
        _ms(seen.duration.percentile(99)),
        _ms(seen.ttft.percentile(95)),
        "—" if mean is None else f"{mean:.1f}",
    ]


def _ms(value: float | None) -> str:
    if value is None or math.isinf(value):
        return "—"
    return f"{value:.0f} ms"


def text(result: Result) -> str:
    rows = table(result)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [*heading(result), ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]  # fmt: skip
    blocks = [finding_block(f) for f in result.findings]
    out = "\n".join(lines) + "\n\n" + "".join(f"{block}\n\n" for block in blocks)
    out += f"{_mark(result)} {result.reason}\n"
    if result.queries:
        out += "\nPromQL (each evaluated at every window's end):\n"
        out += "".join(f"  {q}\n" for q in result.queries)
    return out


def _mark(result: Result) -> str:
    return {"Successful": "✓", "Failed": "✗"}.get(result.phase.value, "?")


def markdown(result: Result) -> str:
    """The evidence a promotion's pull request carries."""
    rows = table(result)
    lines = [f"**Canary analysis: {result.phase.value}** — {result.reason.partition(': ')[2]}",
             "", *heading(result), ""]  # fmt: skip
    lines.append("| " + " | ".join(rows[0]) + " |")
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    findings = [f for f in result.findings if f.severity.value != "info"]
    if findings:
        lines += ["", *[f"- `{f.rule}` {f.severity.value}: {f.message}" for f in findings]]
    if result.queries:
        lines += ["", "<details><summary>PromQL</summary>", "", "```promql",
                  *result.queries, "```", "</details>"]  # fmt: skip
    return "\n".join(lines) + "\n"


def as_json(result: Result) -> str:
    t = result.target
    document = {
        "format": FORMAT,
        "environment": t.env,
        "alias": t.alias,
        "canary": t.pair.canary,
        "stable": t.pair.stable,
        "phase": result.phase.value,
        "reason": result.reason,
        "source": result.source,
        "settings": t.analysis.model_dump(mode="json"),
        "measurements": [_measurement(m) for m in result.measurements],
        "queries": list(result.queries),
    }
    return json.dumps(document, indent=2) + "\n"


def _measurement(m: Measurement) -> dict[str, object]:
    return {
        "window": {"index": m.window.index, "start": m.window.start, "end": m.window.end},
        "phase": m.phase.value,
        "canary": _traffic(m.canary),
        "stable": _traffic(m.stable),
        "findings": [finding_dict(f) for f in m.findings],
    }


def _traffic(seen: Traffic) -> dict[str, object]:
    def number(value: float | None) -> float | None:
        return None if value is None or math.isinf(value) else round(value, 3)

    return {
        "requests": dict(seen.requests),
        "p95_ms": number(seen.duration.percentile(95)),
        "p99_ms": number(seen.duration.percentile(99)),
        "ttft_p95_ms": number(seen.ttft.percentile(95)),
        "mean_output_tokens": number(seen.mean_tokens),
    }
