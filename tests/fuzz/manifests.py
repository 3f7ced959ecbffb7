"""Fuzz target: one registry file, loaded as every kind of document (``load_document``: the
bounded YAML reader, the models, the schema gate's findings with their locations), and its
findings rendered in every report format as a command would print them."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.documents import load_document
from adapterctl.findings import Finding, Report
from adapterctl.layout import Placement
from adapterctl.model.kinds import Kind
from adapterctl.report import Format, render
from tests.fuzz.harness import files, scratch, write

PLACEMENTS = (
    Placement(Kind.ADAPTER_LINE, "demo"),
    Placement(Kind.ADAPTER_REVISION, "demo", "1.0.0"),
    Placement(Kind.BASE, "demo", "r1"),
    Placement(Kind.ENVIRONMENT, "demo"),
    Placement(Kind.GOLDEN_SUITE, "demo", "demo"),
    Placement(Kind.HARDWARE_CLASS, "demo"),
    Placement(Kind.PRESSURE_PROFILE, "demo", "demo"),
)
FILE = "input.yaml"


def check(data: bytes) -> None:
    write(FILE, data)
    findings: list[Finding] = []
    for placement in PLACEMENTS:
        findings += load_document(scratch(), FILE, placement).findings
    report = Report.build("validate", [FILE], findings)
    for fmt in Format:
        render(report, fmt).encode("utf-8")


def seeds() -> Iterator[bytes]:
    yield from files(
        "adapters/**/*.yaml",
        "bases/**/*.yaml",
        "environments/**/*.yaml",
        "hardware/*.yaml",
        "tests/data/valid/*/overlay/**/*.yaml",
    )
