"""The golden gate's self-contained HTML report: candidate and baseline answers side by side.

One page, inline CSS only, no script and nothing fetched (the CSP says so too). Answers are
untrusted model output: every supplied string goes through :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from adapterctl.evals.results import CaseResult
from adapterctl.evals.templating import render as fill
from adapterctl.evals.textdiff import word_diff
from adapterctl.findings import Finding, Report
from adapterctl.gates.golden import Comparison, pass_rate
from adapterctl.model import GoldenSuite
from adapterctl.model.golden import Case

CSP = "default-src 'none'; style-src 'unsafe-inline'"

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px;
  padding: 0 1rem; color: #1b1f23; }
h1 { font-size: 1.5rem; } h2 { border-bottom: 1px solid #d0d7de; margin-top: 2rem; }
h4 { margin: .8rem 0 .3rem; }
.passed { color: #1a7f37; } .failed, .refused, li.error .severity { color: #cf222e; }
li.warning .severity { color: #9a6700; } li.info .severity { color: #57606a; }
ul.findings li { margin-bottom: .6rem; } .hint { color: #57606a; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: .3rem .7rem; text-align: left; }
section.case { border: 1px solid #d0d7de; border-radius: 6px; padding: 0 1rem 1rem;
  margin: 1.5rem 0; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; margin: 0;
  padding: .6rem; border-radius: 4px; font: 13px/1.4 ui-monospace, monospace; }
ol.messages { padding-left: 0; list-style: none; } .role { font-weight: 600; }
.answers { display: grid; gap: 1rem; }
.answers.cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
del { background: #ffebe9; color: #82071e; } ins { background: #dafbe1; color: #116329; }
"""

_MARK = {"equal": "{}", "delete": "<del>{}</del>", "insert": "<ins>{}</ins>"}


def render(comparison: Comparison, report: Report) -> str:
    """The report of one golden run: findings, pass rates, and each failing case."""
    who = comparison.candidate + (
        f" vs {comparison.baseline}" if comparison.baseline else " (no baseline)"
    )
    verdict = "refused" if report.failed else "passed"
    body = [
        f'<h1>golden gate: {escape(who)}: <span class="{verdict}">{verdict}</span></h1>',
        _findings(report),
        _suites(comparison),
        *_failures(comparison),
    ]
    return _page(f"golden gate: {who}: {verdict}", body)


def _page(title: str, body: Sequence[str]) -> str:
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
    ]
    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"


def _findings(report: Report) -> str:
    if not report.findings:
        return "<h2>Findings</h2>\n<p>No findings.</p>"
    items = [_finding(finding) for finding in report.findings]
    return "\n".join(["<h2>Findings</h2>", '<ul class="findings">', *items, "</ul>"])


def _finding(finding: Finding) -> str:
    severity = finding.severity.value
    hint = f'<div class="hint">→ {escape(finding.hint)}</div>' if finding.hint else ""
    return (
        f'<li class="{severity}"><span class="severity">{severity}</span> '
        f"<code>{escape(finding.rule)}</code> <code>{escape(str(finding.location))}</code>"
        f'<div class="message">{escape(finding.message)}</div>{hint}</li>'
    )


def _revisions(comparison: Comparison) -> list[str]:
    return [r for r in (comparison.candidate, comparison.baseline) if r is not None]


def _of(comparison: Comparison, revision: str | None, suite: str) -> list[CaseResult]:
    return [r for r in comparison.results if r.revision == revision and r.suite == suite]


def _runs(comparison: Comparison, revision: str | None, suite: str, case: str) -> list[CaseResult]:
    found = [r for r in _of(comparison, revision, suite) if r.case == case]
    return sorted(found, key=lambda r: r.repeat)


def _failing(runs: Sequence[CaseResult]) -> bool:
    return any(not r.passed for r in runs)


def _anchor(suite: str, case: str) -> str:
    return escape(f"case-{suite}-{case}")


def _suites(comparison: Comparison) -> str:
    heads = "".join(f"<th>{escape(r)}</th>" for r in _revisions(comparison))
    rows = [
        "<h2>Suites</h2>",
        "<table>",
        f"<tr><th>suite</th><th>cases</th>{heads}<th>needed</th><th>failing</th></tr>",
    ]
    for suite in comparison.suites:
        needed = max(suite.thresholds.pass_rate, comparison.line.gates.golden.min_pass_rate)
        rates = "".join(
            f"<td>{pass_rate(_of(comparison, r, suite.suite)):.0%}</td>"
            for r in _revisions(comparison)
        )
        links = ", ".join(
            f'<a href="#{_anchor(suite.suite, case.id)}">{escape(case.id)}</a>'
            for case in suite.cases
            if _failing(_runs(comparison, comparison.candidate, suite.suite, case.id))
        )
        rows.append(
            f"<tr><td>{escape(suite.suite)}</td><td>{len(suite.cases)}</td>{rates}"
            f"<td>{needed:.0%}</td><td>{links}</td></tr>"
        )
    return "\n".join([*rows, "</table>"])


def _failures(comparison: Comparison) -> list[str]:
    sections = []
    for suite in comparison.suites:
        for case in suite.cases:
            runs = _runs(comparison, comparison.candidate, suite.suite, case.id)
            if _failing(runs):
                sections.append(_case(comparison, suite, case, runs))
    if not sections:
        return ["<h2>Failing cases</h2>", "<p>None: every case passed in every repeat.</p>"]
    return ["<h2>Failing cases</h2>", *sections]


def _case(comparison: Comparison, suite: GoldenSuite, case: Case, runs: list[CaseResult]) -> str:
    failed = [r for r in runs if not r.passed]
    shown = failed[0]
    base_runs = _runs(comparison, comparison.baseline, suite.suite, case.id)
    base = next((r for r in base_runs if r.repeat == shown.repeat), None)
    base = base or (base_runs[0] if base_runs else None)
    differ = (
        "; the answers differ between repeats" if len({r.answer.text for r in runs}) > 1 else ""
    )
    parts = [
        f'<section class="case" id="{_anchor(suite.suite, case.id)}">',
        f"<h3>{escape(suite.suite)} / {escape(case.id)}</h3>",
        f"<p>{escape(case.description)}</p>" if case.description else "",
        f'<p class="repeats">failed in {len(failed)} of {len(runs)} repeats '
        f"(shown: repeat {shown.repeat + 1}){differ}</p>",
        _prompt(suite, case),
        _answers(shown, base),
        _assertions(shown),
        _diff(base, shown) if base is not None else "",
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def _prompt(suite: GoldenSuite, case: Case) -> str:
    variables = {**suite.vars, **case.vars}
    if case.messages is None:
        text = escape(fill(case.prompt or "", variables))
        return f'<div class="prompt"><h4>prompt</h4><pre>{text}</pre></div>'
    items = "".join(
        f'<li><span class="role">{escape(m.role)}</span><pre>{escape(fill(m.content, variables))}'
        "</pre></li>"
        for m in case.messages
    )
    return f'<div class="prompt"><h4>messages</h4><ol class="messages">{items}</ol></div>'


def _answers(shown: CaseResult, base: CaseResult | None) -> str:
    columns = [_column("candidate", shown)]
    if base is not None:
        columns.append(_column("baseline", base))
    return f'<div class="answers cols-{len(columns)}">' + "".join(columns) + "</div>"


def _column(role: str, result: CaseResult) -> str:
    status = "passed" if result.passed else "failed"
    error = result.answer.error
    problem = f'<p class="failed">error: {escape(error)}</p>' if error else ""
    return (
        f'<div class="answer {role}"><h4>{role} {escape(result.revision)}: '
        f'<span class="{status}">{status}</span></h4>{problem}'
        f"<pre>{escape(result.answer.text)}</pre></div>"
    )


def _assertions(result: CaseResult) -> str:
    items = [
        f"<li><code>{escape(a.type)}</code> {escape(a.reason)}</li>"
        for a in result.assertions
        if not a.passed
    ] or [f"<li>{escape(result.answer.error or 'below the case threshold')}</li>"]
    head = f"<h4>failed assertions (score {result.score:.2f})</h4>"
    return "\n".join([f'<div class="assertions">{head}<ul>', *items, "</ul></div>"])


def _diff(base: CaseResult, shown: CaseResult) -> str:
    runs = word_diff(base.answer.text, shown.answer.text)
    marked = "".join(_MARK[op].format(escape(text)) for op, text in runs)
    return f'<div class="diff"><h4>baseline → candidate, word by word</h4><pre>{marked}</pre></div>'
