"""The demo's Shell on a failed command: what ``make demo`` prints before it stops.

Fast: a Python one-liner stands in for ``adapterctl``; no nodes, no registry.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = str(REPO / "scripts")
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

import demo  # noqa: E402
from demo_support.shell import DemoFailure, Shell, output_file  # noqa: E402
from demo_support.transcript import Transcript  # noqa: E402

STEP = "4. CI gates the pull request"
# Writes the report named after -o / --output=, says why on stderr, exits 1 (like eval).
GATE = """
import sys
args = sys.argv[1:]
name = args[args.index("-o") + 1] if "-o" in args else None
if name:
    open(name, "w").write("### ❌ adapterctl eval: 1 error in 1 file\\n" + lines)
print("boom", file=sys.stderr)
sys.exit(1)
"""


def _fail(tmp_path: Path, *args: str, lines: int = 1) -> tuple[DemoFailure, str]:
    """Run the stand-in in ``tmp_path/registry``; the failure and what the demo then prints."""
    registry = tmp_path / "registry"
    (registry / "reports").mkdir(parents=True)
    stream = io.StringIO()
    transcript = Transcript(stream)
    transcript.step = STEP
    shell = Shell(transcript, os.environ, registry, tmp_path / "adapterctl")
    body = "".join(f"- eval/case-{n}: failed\n" for n in range(1, lines + 1))
    code = f"lines = {body!r}\n{GATE}"
    with pytest.raises(DemoFailure) as caught:
        shell.run([sys.executable, "-c", code, *args], shown=["adapterctl", "eval", *args])
    printed = len(stream.getvalue())
    demo.fail(transcript, caught.value)
    return caught.value, stream.getvalue()[printed:]


def test_a_failed_command_shows_the_report_it_wrote(tmp_path: Path) -> None:
    args = ("support-bot@1.1.0", "-f", "markdown", "-o", "reports/eval.md")
    problem, printed = _fail(tmp_path, *args)
    message = (
        "`adapterctl eval support-bot@1.1.0 -f markdown -o reports/eval.md` exited with 1, "
        "expected 0"
    )
    assert problem.message == message
    assert problem.output == "boom\n"
    assert printed == (
        "\n"
        f"✗ the demo failed in step {STEP}: {message}\n"
        "    boom\n"
        "  its report (reports/eval.md):\n"
        "    ### ❌ adapterctl eval: 1 error in 1 file\n"
        "    - eval/case-1: failed\n"
    )


def test_a_long_report_shows_its_last_80_lines(tmp_path: Path) -> None:
    _, printed = _fail(tmp_path, "-o", "reports/eval.md", lines=100)
    report = printed.split("  its report (reports/eval.md):\n", 1)[1].splitlines()
    assert report[0] == "    … (21 earlier lines)"
    assert report[1] == "    - eval/case-21: failed"
    assert report[-1] == "    - eval/case-100: failed"
    assert len(report) == 81


def test_a_report_that_was_not_written_is_said_in_one_line(tmp_path: Path) -> None:
    problem, printed = _fail(tmp_path, "support-bot@1.1.0", "--output=reports/eval.json")
    assert problem.report == ["  its report (reports/eval.json) was not written"]
    assert printed.endswith("    boom\n  its report (reports/eval.json) was not written\n")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["eval", "x", "-o", "a.md"], "a.md"),
        (["eval", "x", "--output", "b.xml", "-f", "junit"], "b.xml"),
        (["eval", "x", "--output=c.json"], "c.json"),
        (["export", "x", "-o", "-"], None),
        (["eval", "x"], None),
        (["eval", "x", "-o"], None),
    ],
)
def test_output_file(argv: list[str], expected: str | None) -> None:
    assert output_file(argv) == expected
