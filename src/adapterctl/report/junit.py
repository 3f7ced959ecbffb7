"""JUnit XML: one test case per file; its errors make one failure, warnings go to system-out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from adapterctl.findings import Finding, Report, Severity
from adapterctl.report.text import finding_block


def render(report: Report) -> str:
    grouped = report.by_file()
    failed = sum(1 for items in grouped.values() if _errors(items))
    suites = ET.Element("testsuites", name=f"adapterctl {report.command}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=report.command,
        tests=str(len(grouped)),
        failures=str(failed),
        errors="0",
        skipped="0",
    )
    for file, findings in grouped.items():
        _case(suite, file, findings)
    suites.set("tests", str(len(grouped)))
    suites.set("failures", str(failed))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def _case(suite: ET.Element, file: str, findings: Sequence[Finding]) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=file.rsplit("/", 1)[0].replace("/", "."), name=file
    )
    errors = _errors(findings)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        failure = ET.SubElement(case, "failure", type=first.rule, message=first.message + more)
        failure.text = "\n\n".join(finding_block(f) for f in errors)
    others = [f for f in findings if f.severity is not Severity.ERROR]
    if others:
        ET.SubElement(case, "system-out").text = "\n\n".join(finding_block(f) for f in others)
