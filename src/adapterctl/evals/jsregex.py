"""A Python regular expression (``re.search``) as a JavaScript ``RegExp`` that finds the same,
for tools that run our suites in JavaScript (promptfoo)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PY_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")
_PY_BACKREF = re.compile(r"\(\?P=(\w+)\)")
_PY_ONLY = re.compile(r"\(\?(?:[aiLmsux-]+[:)]|[#(>])")
_ANCHORS = {"\\A": "(?<![\\s\\S])", "\\Z": "(?![\\s\\S])"}


@dataclass(frozen=True, slots=True)
class JsRegex:
    """A Python regular expression as a JavaScript ``RegExp`` source and flags."""

    source: str
    flags: str
    problems: tuple[str, ...]
    """Python syntax that JavaScript lacks, as written in the pattern."""


def js_regex(pattern: str) -> JsRegex:
    """``pattern`` (Python ``re.search`` syntax) as a JavaScript RegExp that finds the same.

    Leading inline flags become RegExp flags (i, m, s; u is Python's default); ``(?P<name>``,
    ``(?P=name)``, ``\\A`` and ``\\Z`` are rewritten; ``$`` without the m flag also matches
    before a final newline, as in Python; ``[]...]`` keeps its literal ``]``.
    """
    flags, problems = "", []
    while found := _PY_FLAGS.match(pattern):
        pattern = pattern[found.end() :]
        for flag in found.group(1):
            if flag in "ims" and flag not in flags:
                flags += flag
            elif flag in "aLx":
                problems.append(f"(?{flag})")
    problems += [match.group(0) for match in _PY_ONLY.finditer(pattern)]
    return JsRegex(
        _translate(pattern, multiline="m" in flags), "".join(sorted(flags)), tuple(problems)
    )


def _translate(pattern: str, *, multiline: bool) -> str:
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        char, rest = pattern[i], pattern[i:]
        step = 1
        if char == "\\":
            step, escaped = 2, rest[:2]
            out.append(_ANCHORS.get(escaped, escaped) if not in_class else escaped)
        elif in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            opening = "[^" if rest.startswith("[^") else "["
            step = len(opening)
            if rest[step : step + 1] == "]":
                opening, step = opening + "\\]", step + 1
            out.append(opening)
        elif rest.startswith("(?P<"):
            step = 4
            out.append("(?<")
        elif backref := _PY_BACKREF.match(rest):
            step = backref.end()
            out.append(f"\\k<{backref.group(1)}>")
        elif char == "$" and not multiline:
            out.append("(?=\\n?$)")
        else:
            out.append(char)
        i += step
    return "".join(out)
