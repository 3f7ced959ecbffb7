"""Reporters: render a :class:`~adapterctl.findings.Report` in each output format."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from adapterctl.findings import Report
from adapterctl.report import json, junit, markdown, text


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"
    MARKDOWN = "markdown"


_RENDERERS: dict[Format, Callable[[Report], str]] = {
    Format.TEXT: text.render,
    Format.JSON: json.render,
    Format.JUNIT: junit.render,
    Format.MARKDOWN: markdown.render,
}


def render(report: Report, fmt: Format) -> str:
    """The report as text in ``fmt``, ending with a newline."""
    return _RENDERERS[fmt](report)
