"""The narrated transcript: headings, plain sentences, commands, their output, takeaways.

Colour only when stdout is a terminal (and ``NO_COLOR`` is unset). Paths under the demo's
temporary folder are shown as ``$DEMO/…`` and 64-digit hex digests are shortened to 12
digits, so that lines stay readable; both are said once at the top of the transcript.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

_HEX = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{52}\b")
_WIDTH = 92
_STYLES = {
    "title": "1",
    "heading": "1;36",
    "command": "1",
    "output": "2",
    "takeaway": "32",
    "expected": "33",
    "error": "1;31",
}


class Transcript:
    """Writes the demo's transcript to ``stream``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.colour = self.stream.isatty() and "NO_COLOR" not in os.environ
        self.names: list[tuple[str, str]] = []
        self.step = "setting up"

    def name(self, path: str, label: str) -> None:
        """Show ``path`` as ``label`` from now on (longest paths first)."""
        self.names.append((path, label))
        self.names.sort(key=lambda item: -len(item[0]))

    def shown(self, text: str) -> str:
        for path, label in self.names:
            text = text.replace(path, label)
        return _HEX.sub(r"\1…", text)

    def _write(self, text: str, style: str | None = None) -> None:
        if self.colour and style is not None:
            text = f"\033[{_STYLES[style]}m{text}\033[0m"
        self.stream.write(text + "\n")
        self.stream.flush()

    def title(self, text: str) -> None:
        self._write(text, "title")
        self._write("=" * len(text), "title")

    def heading(self, number: int, text: str) -> None:
        self.step = f"{number}. {text}"
        self._write("")
        self._write(self.step, "heading")
        self._write("-" * len(self.step), "heading")

    def say(self, text: str) -> None:
        """A plain sentence or two: why the next command matters."""
        for line in _wrap(self.shown(text), _WIDTH - 2):
            self._write(f"  {line}")

    def command(self, text: str, *, raw: bool = False) -> None:
        self._write(f"  $ {text if raw else self.shown(text)}", "command")

    def request(self, text: str) -> None:
        """An HTTP request the demo sends itself (not a shell command)."""
        self._write(f"  > {self.shown(text)}", "command")

    def output(self, lines: Sequence[str]) -> None:
        for line in lines:
            self._write(f"      {self.shown(line)}".rstrip(), "output")

    def takeaway(self, text: str) -> None:
        wrapped = _wrap(self.shown(text), _WIDTH - 4)
        for index, line in enumerate(wrapped):
            self._write(("  → " if index == 0 else "    ") + line, "takeaway")

    def expected(self, text: str) -> None:
        self._write(f"  ✓ {self.shown(text)}", "expected")

    def blank(self) -> None:
        self._write("")

    def error(self, text: str) -> None:
        self._write(self.shown(text), "error")


def _wrap(text: str, width: int) -> list[str]:
    """Wrapped at spaces only: paths and names stay whole."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)


def trimmed(lines: Sequence[str], limit: int) -> list[str]:
    """At most ``limit`` lines: the head and the tail, with the count left out between."""
    if len(lines) <= limit:
        return list(lines)
    tail = max(limit // 4, 1)
    head = limit - tail - 1
    left_out = len(lines) - head - tail
    return [*lines[:head], f"… ({left_out} more lines)", *lines[-tail:]]
