"""Running the transcript's commands for real, and checking their exit codes."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from demo_support.transcript import Transcript, trimmed

Filter = Callable[[list[str]], list[str]]
_SAFE = re.compile(r"^[\w@%+=:,./$~-]+$")
_TIMEOUT_S = 300
_REPORT_LINES = 80


class DemoFailure(Exception):
    """An unexpected result: what went wrong, the command's output and its report's lines."""

    def __init__(self, message: str, output: str = "", report: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.output = output
        self.report = list(report)


@dataclass(frozen=True)
class Result:
    rc: int
    output: str

    @property
    def lines(self) -> list[str]:
        return self.output.rstrip("\n").splitlines()


def display(argv: Sequence[str], transcript: Transcript) -> str:
    """The command as a user would type it (``$DEMO`` left for the shell to expand)."""
    words = []
    for arg in argv:
        shown = transcript.shown(arg)
        if _SAFE.match(shown):
            words.append(shown)
        elif "$" in shown:
            words.append('"' + re.sub(r'(["\\`])', r"\\\1", shown) + '"')
        else:
            words.append(shlex.quote(shown))
    return " ".join(words)


class Shell:
    """Runs commands in the demo registry with the demo's environment, and shows them."""

    def __init__(
        self, transcript: Transcript, env: Mapping[str, str], cwd: Path, adapterctl: Path
    ) -> None:
        self.transcript = transcript
        self.env = dict(env)
        self.cwd = cwd
        self.adapterctl_path = adapterctl

    def adapterctl(
        self, *args: str, expect: int = 0, keep: Filter | None = None, limit: int = 24
    ) -> Result:
        return self.run(
            [str(self.adapterctl_path), *args],
            shown=["adapterctl", *args],
            expect=expect,
            keep=keep,
            limit=limit,
        )

    def git(self, *args: str, env: Mapping[str, str] | None = None, limit: int = 12) -> Result:
        """``git ARGS``; ``env`` is shown as a prefix (``NAME=value git …``)."""
        prefix = "".join(f"{name}={value} " for name, value in (env or {}).items())
        shown = prefix + display(["git", *args], self.transcript)
        return self.run(["git", *args], shown=shown, env=env, limit=limit)

    def run(
        self,
        argv: Sequence[str],
        *,
        shown: Sequence[str] | str | None = None,
        expect: int = 0,
        keep: Filter | None = None,
        limit: int = 24,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        """Show the command, run it, show its output (filtered, trimmed), check its code."""
        text = shown if isinstance(shown, str) else display(shown or argv, self.transcript)
        self.transcript.command(text)
        result = self.quiet(argv, cwd=cwd, env=env)
        lines = result.lines if keep is None else keep(result.lines)
        self.transcript.output(trimmed(lines, limit))
        if result.rc != expect:
            raise DemoFailure(
                f"`{self.transcript.shown(text)}` exited with {result.rc}, expected {expect}",
                result.output,
                report_lines(argv, cwd or self.cwd),
            )
        return result

    def quiet(
        self, argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        """Run a command without showing it (its output is still kept for failures)."""
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd or self.cwd,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DemoFailure(f"{argv[0]} ran for more than {_TIMEOUT_S} s") from exc
        except OSError as exc:
            raise DemoFailure(f"cannot run {argv[0]}: {exc}") from exc
        return Result(done.returncode, done.stdout)


def output_file(argv: Sequence[str]) -> str | None:
    """Where the command writes its report: ``-o PATH``, ``--output PATH``, ``--output=PATH``."""
    for index, arg in enumerate(argv):
        if arg.startswith("--output="):
            name = arg.removeprefix("--output=")
        elif arg in ("-o", "--output") and index + 1 < len(argv):
            name = argv[index + 1]
        else:
            continue
        return None if name == "-" else name
    return None


def report_lines(argv: Sequence[str], cwd: Path) -> list[str]:
    """The report a failed command wrote to a file (its last lines), to show with the failure."""
    name = output_file(argv)
    if name is None:
        return []
    try:
        lines = (cwd / name).read_text("utf-8", errors="replace").rstrip("\n").splitlines()
    except FileNotFoundError:
        return [f"  its report ({name}) was not written"]
    except OSError as exc:
        return [f"  its report ({name}) cannot be read: {exc.strerror}"]
    if not lines:
        return [f"  its report ({name}) is empty"]
    left_out = len(lines) - _REPORT_LINES
    more = [f"    … ({left_out} earlier lines)"] if left_out > 0 else []
    return [f"  its report ({name}):", *more, *(f"    {line}" for line in lines[-_REPORT_LINES:])]


def without_info(rule: str) -> Filter:
    """Drop ``info`` findings of ``rule`` (the finding's line and its message line)."""

    def keep(lines: list[str]) -> list[str]:
        kept: list[str] = []
        skip = False
        for line in lines:
            if line.endswith(f"  info  {rule}"):
                skip = True
                continue
            if skip and line.startswith("  "):
                continue
            skip = False
            if line.strip() or (kept and kept[-1].strip()):
                kept.append(line)
        return kept

    return keep


def matching(*needles: str) -> Filter:
    """Only the lines that contain one of ``needles``."""

    def keep(lines: list[str]) -> list[str]:
        return [line for line in lines if any(needle in line for needle in needles)]

    return keep


def starting(prefix: str) -> Filter:
    """Only the lines that start with ``prefix`` (``grep '^PREFIX'``)."""

    def keep(lines: list[str]) -> list[str]:
        return [line for line in lines if line.startswith(prefix)]

    return keep
