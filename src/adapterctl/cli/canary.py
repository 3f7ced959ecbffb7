"""``adapterctl canary analyze``: judge a canary from the gateways' per-revision metrics."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer

from adapterctl.cli.options import EnvOption, PrometheusOption, RootOption, ScrapeOption
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, UsageError

app = typer.Typer(no_args_is_help=True, help="Canary analysis.")


class AnalysisFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


@app.command("analyze")
def analyze_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The alias (adapter line).")],
    env: EnvOption,
    prometheus: PrometheusOption = None,
    scrape: ScrapeOption = None,
    canary: Annotated[
        str | None,
        typer.Option("--canary", metavar="VERSION", help="The canary (default: the newest)."),
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option("--at", metavar="TIME", help="End of the last window (Prometheus only)."),
    ] = None,
    root: RootOption = None,
    fmt: Annotated[
        AnalysisFormat, typer.Option("--format", "-f", help="Output format.")
    ] = AnalysisFormat.TEXT,
) -> int:
    """Judge NAME's canary in ENV against its stable revision: Successful (exit 0), Failed
    or Inconclusive (exit 1)."""
    from adapterctl.canary import analysis, present  # noqa: PLC0415
    from adapterctl.canary.judge import Phase  # noqa: PLC0415
    from adapterctl.canary.sources import Prometheus, Scrape  # noqa: PLC0415

    if (prometheus is None) == (not scrape):
        raise UsageError("give --prometheus URL, or --scrape URL for each gateway (not both)")
    if at is not None and prometheus is None:
        raise UsageError("--at needs --prometheus: a scrape measures from now on")
    subject = analysis.target(resolve_root(root), env, name, canary)
    if prometheus is not None:
        end = time.time() if at is None else at.timestamp()
        result = analysis.from_prometheus(subject, Prometheus(prometheus), end)
    else:
        result = analysis.from_scrape(subject, Scrape(tuple(scrape or ())))
    render = {AnalysisFormat.TEXT: present.text, AnalysisFormat.JSON: present.as_json,
              AnalysisFormat.MARKDOWN: present.markdown}[fmt]  # fmt: skip
    sys.stdout.write(render(result))
    return ExitCode.OK if result.phase is Phase.SUCCESSFUL else ExitCode.FINDINGS
