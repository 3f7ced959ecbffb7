"""The demo's Shell on a failed command: what ``make demo`` prints before it stops; the
merged-base canary's count of who answered (step 15), and its failure.

Fast: a Python one-liner stands in for ``adapterctl``, a function for the gateway; no
nodes, no registry.
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
from demo_support import steps_merged  # noqa: E402
from demo_support.context import Demo  # noqa: E402
from demo_support.engine import Engine  # noqa: E402
from demo_support.shell import DemoFailure, Shell, output_file  # noqa: E402
from demo_support.transcript import Transcript  # noqa: E402
from demo_support.world import World  # noqa: E402

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


def _split_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, merged: set[int]) -> Demo:
    """A demo whose gateway sends the visitors numbered in ``merged`` to the merged base."""
    stream = io.StringIO()
    shell = Shell(Transcript(stream), os.environ, tmp_path, tmp_path / "adapterctl")
    demo_ = Demo(shell.transcript, shell, World(tmp_path), True, Engine("reference"))

    def answered_by(_demo: Demo, _gateway: str, tenant: str, model: str, user: str) -> str:
        assert (tenant, model) == ("web-chat", "support-bot")
        return steps_merged.MERGED if int(user.split("-")[1]) in merged else "support-bot@1.1.0"

    monkeypatch.setattr(steps_merged, "answered_by", answered_by)
    return demo_


def test_the_canary_counts_who_answered_as_uniq_c_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_ = _split_demo(tmp_path, monkeypatch, merged=set(range(1, 41, 4)))
    steps_merged.visitors(demo_, "http://127.0.0.1:9", {"support-bot@1.1.0", steps_merged.MERGED})
    stream = demo_.transcript.stream
    assert isinstance(stream, io.StringIO)
    printed = stream.getvalue().splitlines()
    assert printed[0].startswith("  $ for i in $(seq 1 40); do curl -sS http://127.0.0.1:9/v1/")
    assert printed[0].endswith("""| grep -o '"model":"[^"]*"'; done | sort | uniq -c""")
    assert printed[1:] == [
        '           10 "model":"support-bot-merged@r1"',
        '           30 "model":"support-bot@1.1.0"',
    ]


def test_the_canary_fails_when_one_side_never_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_ = _split_demo(tmp_path, monkeypatch, merged=set())
    with pytest.raises(DemoFailure) as caught:
        steps_merged.visitors(
            demo_, "http://127.0.0.1:9", {"support-bot@1.1.0", steps_merged.MERGED}
        )
    assert caught.value.message == (
        "expected answers from support-bot-merged@r1 and support-bot@1.1.0; "
        "got 40 from support-bot@1.1.0"
    )
