"""The golden gate's HTML report: exact markup, escaping, headless Chromium, and end to end."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from adapterctl.cli.app import main
from adapterctl.evals import html as report_html
from adapterctl.evals.results import Answer, AssertionResult, CaseResult
from adapterctl.evals.textdiff import word_diff, words
from adapterctl.evaluation import summary
from adapterctl.findings import Report
from adapterctl.gates import golden
from adapterctl.gates.golden import Comparison
from adapterctl.registry import Registry
from tests.conftest import REPO, copy_registry

CAND, BASE = "support-bot@1.2.0", "support-bot@1.1.0"
EVIL = "You can return items within 14 days. <script>alert(1)</script>"
GOOD = "You can return items within 30 days."
REASON = "does not contain '30 days' (ignoring case)"
SUITE_FILE = "adapters/support-bot/golden/refunds.yaml"
CSP_META = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(REPO, workers=1)


def _result(revision: str, case: str, repeat: int, passed: bool, text: str) -> CaseResult:
    assertion = AssertionResult(
        "icontains", passed, float(passed), 1.0, "policy", "" if passed else REASON
    )
    answer = Answer(text, "stop", 100.0)
    return CaseResult(
        "refunds", case, revision, repeat, answer, (assertion,), float(passed), passed
    )


def _candidate(case: str, repeat: int) -> CaseResult:
    if case == "refund-window":
        return _result(CAND, case, repeat, False, EVIL)
    if case == "escalation" and repeat == 1:
        return _result(CAND, case, repeat, False, "Please wait.")
    return _result(CAND, case, repeat, True, "Fine.")


def _render(registry: Registry, *, baseline: bool = True) -> str:
    """refund-window fails in every repeat (with a script in its answer), escalation in one."""
    line, suite = registry.line("support-bot"), registry.suite("support-bot", "refunds")
    assert line is not None
    assert suite is not None
    results: list[CaseResult] = []
    for repeat in range(3):
        for case in suite.cases:
            results.append(_candidate(case.id, repeat))
            if baseline:
                text = GOOD if case.id == "refund-window" else "Fine."
                results.append(_result(BASE, case.id, repeat, True, text))
    comparison = Comparison(line, (suite,), tuple(results), CAND, BASE if baseline else None)
    findings = golden.check(comparison, registry.locate) + summary(comparison, registry.locate)
    return report_html.render(comparison, Report.build("eval", [SUITE_FILE], findings))


def _section(page: str, anchor: str) -> str:
    match = re.search(f'<section class="case" id="{anchor}">.*?</section>', page, re.DOTALL)
    assert match is not None, anchor
    return match.group(0)


def test_title_findings_and_suite_table(registry: Registry) -> None:
    page = _render(registry)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    assert CSP_META in page
    assert f"<title>golden gate: {CAND} vs {BASE}: refused</title>" in page
    assert f'<h1>golden gate: {CAND} vs {BASE}: <span class="refused">refused</span></h1>' in page
    assert (
        '<li class="error"><span class="severity">error</span> <code>golden/regression</code> '
        f'<code>{SUITE_FILE}:6 $.cases[0]</code><div class="message">case refund-window passed'
        f" on {BASE} in all 3 repeats but fails on {CAND} in 3 of 3: {html.escape(REASON)}</div>"
        '<div class="hint">→ fix the candidate, or list the case in '
        "gates.golden.accepted_changes of adapter.yaml if the new behaviour is intended "
        "(the product owner approves that change)</div></li>"
    ) in page
    assert (
        f"<tr><th>suite</th><th>cases</th><th>{CAND}</th><th>{BASE}</th>"
        "<th>needed</th><th>failing</th></tr>\n"
        "<tr><td>refunds</td><td>6</td><td>78%</td><td>100%</td><td>90%</td><td>"
        '<a href="#case-refunds-refund-window">refund-window</a>, '
        '<a href="#case-refunds-escalation">escalation</a></td></tr>'
    ) in page


def test_failing_cases_show_both_answers_side_by_side(registry: Registry) -> None:
    page = _render(registry)
    assert re.findall(r'<section class="case" id="([^"]+)">', page) == [
        "case-refunds-refund-window",
        "case-refunds-escalation",
    ]
    section = _section(page, "case-refunds-refund-window")
    assert '<p class="repeats">failed in 3 of 3 repeats (shown: repeat 1)</p>' in section
    assert (
        '<ol class="messages"><li><span class="role">system</span>'
        "<pre>You are the support agent of the EU store.</pre></li>"
        '<li><span class="role">user</span><pre>How long can I return an order?</pre></li></ol>'
    ) in section
    assert (
        '<div class="answers cols-2"><div class="answer candidate">'
        f'<h4>candidate {CAND}: <span class="failed">failed</span></h4>'
        f"<pre>{html.escape(EVIL)}</pre></div>"
        '<div class="answer baseline">'
        f'<h4>baseline {BASE}: <span class="passed">passed</span></h4>'
        f"<pre>{GOOD}</pre></div></div>"
    ) in section
    assert (
        f"<h4>failed assertions (score 0.00)</h4><ul>\n<li><code>icontains</code> "
        f"{html.escape(REASON)}</li>\n</ul>"
    ) in section
    assert (
        "<pre>You can return items within <del>30</del><ins>14</ins> days.<ins> "
        "&lt;script&gt;alert(1)&lt;/script&gt;</ins></pre>"
    ) in section


def test_the_first_failing_repeat_is_shown(registry: Registry) -> None:
    section = _section(_render(registry), "case-refunds-escalation")
    assert (
        '<p class="repeats">failed in 1 of 3 repeats (shown: repeat 2); '
        "the answers differ between repeats</p>"
    ) in section
    assert "<pre>Please wait.</pre>" in section
    assert "<pre><del>Fine.</del><ins>Please wait.</ins></pre>" in section


def test_answers_are_escaped_and_nothing_is_fetched(registry: Registry) -> None:
    page = _render(registry)
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the answer and the diff
    assert re.findall(r"\b(?:src|href)=\"([^\"]*)\"", page) == [
        "#case-refunds-refund-window",
        "#case-refunds-escalation",
    ]
    assert page.count("href=") == 2
    assert "src=" not in page
    assert "http://" not in page
    assert "https://" not in page


def test_without_a_baseline_the_candidate_stands_alone(registry: Registry) -> None:
    page = _render(registry, baseline=False)
    assert f"<h1>golden gate: {CAND} (no baseline): " in page
    section = _section(page, "case-refunds-refund-window")
    assert '<div class="answers cols-1"><div class="answer candidate">' in section
    assert "baseline" not in section
    assert "<del>" not in section


@pytest.mark.parametrize(
    ("old", "new", "runs"),
    [
        ("a b c", "a b c", [("equal", "a b c")]),
        (
            "within 30 days here",
            "within 14 weeks here",
            [
                ("equal", "within "),
                ("delete", "30 days"),
                ("insert", "14 weeks"),
                ("equal", " here"),
            ],
        ),
        ("", "new text", [("insert", "new text")]),
        ("old  text", "", [("delete", "old  text")]),
    ],
)
def test_word_diff(old: str, new: str, runs: list[tuple[str, str]]) -> None:
    assert word_diff(old, new) == runs


def test_words_keep_whitespace() -> None:
    assert words("a  b\nc") == ["a", "  ", "b", "\n", "c"]


# --- headless Chromium: the page renders, offline ---------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class _Dom(HTMLParser):
    """Element ids, tag names and text of a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.ids += [value for name, value in attrs if name == "id" and value]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if browser is None:
        pytest.skip("no headless Chromium installed (Debian: apt-get install chromium)")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    # a safety net against a hung browser: Chromium takes seconds, more on a busy machine
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated scanlines of a PNG (no image library needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, size = 8, b"", (0, 0)
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    return size[0], size[1], zlib.decompress(idat)


@pytest.fixture
def page_file(registry: Registry, tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text(_render(registry), encoding="utf-8")
    return path


def test_chromium_renders_the_cases(page_file: Path, tmp_path: Path) -> None:
    dom = _Dom()
    dom.feed(_chromium(tmp_path, "--dump-dom", page_file.as_uri()).stdout)
    assert [i for i in dom.ids if i.startswith("case-")] == [
        "case-refunds-refund-window",
        "case-refunds-escalation",
    ]
    assert "script" not in dom.tags
    assert EVIL in dom.text
    assert GOOD in dom.text


def test_chromium_screenshot_is_not_blank(page_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page_file.as_uri())
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1280, 2000)
    assert len(set(pixels)) > 32  # a blank page inflates to a handful of byte values


# --- end to end: adapterctl eval on the reference node ----------------------------------


@pytest.fixture
def endpoint(example_node: str) -> str:
    return example_node


def test_eval_writes_the_report_next_to_the_evidence(
    tmp_path: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_registry(tmp_path / "registry")
    args = ["support-bot@1.2.0", "--env", "staging", "--endpoint", endpoint]
    code = main(["eval", *args, "--root", str(root), "--format", "json"])
    capsys.readouterr()
    assert code == 1
    page = (root / "reports/golden/support-bot@1.2.0.html").read_text(encoding="utf-8")
    evidence = json.loads((root / "reports/golden/support-bot@1.2.0.json").read_text())
    assert f"<title>golden gate: {CAND} vs {BASE}: refused</title>" in page
    assert re.findall(r'<section class="case" id="([^"]+)">', page) == [
        "case-refunds-refund-window",
        "case-refunds-escalation",
    ]
    answers = {
        (r["revision"], r["case"]): r["answer"]["text"]
        for r in evidence["results"]
        if r["repeat"] == 0
    }
    for case in ("refund-window", "escalation"):
        section = _section(page, f"case-refunds-{case}")
        assert '<p class="repeats">failed in 3 of 3 repeats (shown: repeat 1)' in section
        assert f"<pre>{html.escape(answers[CAND, case])}</pre>" in section
        assert f"<pre>{html.escape(answers[BASE, case])}</pre>" in section


def test_eval_html_option_sets_the_path(
    tmp_path: Path, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_registry(tmp_path / "registry")
    target = tmp_path / "out/nested/page.html"
    args = ["support-bot@1.1.0", "--env", "prod", "--endpoint", endpoint, "--repeat", "1"]
    code = main(["eval", *args, "--html", str(target), "--root", str(root), "--format", "json"])
    capsys.readouterr()
    assert code == 0
    page = target.read_text(encoding="utf-8")
    assert "<title>golden gate: support-bot@1.1.0 vs support-bot@1.0.0: passed</title>" in page
    assert "<p>None: every case passed in every repeat.</p>" in page
    assert not (root / "reports/golden/support-bot@1.1.0.html").exists()
