"""CODEOWNERS: parse a GitHub CODEOWNERS file and answer who owns a path.

Semantics follow GitHub's "About code owners": gitignore-style patterns without ``!``
negation or ``[...]`` ranges, owners as ``@user``, ``@org/team`` or an email address, and
the last matching rule wins. A rule without owners matches and leaves the path unowned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from adapterctl.findings import Finding, Location, Severity

MAX_BYTES = 3 * 1024 * 1024
"""GitHub does not load a CODEOWNERS file larger than 3 MB."""

INVALID_LINE = "codeowners/invalid-line"
TOO_LARGE = "codeowners/too-large"
INVALID_LINE_HINT = (
    "GitHub skips invalid CODEOWNERS lines, so this rule has no effect; fix this line"
)
TOO_LARGE_HINT = "use wildcard patterns to consolidate entries and shrink the file"
NEGATION = "negation patterns ('!') are not supported by CODEOWNERS"
RANGES = "character ranges ('[...]') are not supported by CODEOWNERS"
ESCAPED_HASH = "escaping a leading '#' with '\\' is not supported by CODEOWNERS"

_OWNER = re.compile(
    r"@[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)?"  # @user or @org/team
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"  # email
)
_ANY_DEPTH = "(?:.+/)?"


@dataclass(frozen=True, slots=True)
class Rule:
    """One CODEOWNERS line: a pattern, its owners (maybe none) and its 1-based line."""

    pattern: str
    owners: tuple[str, ...]
    line: int
    _steps: tuple[Step, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_steps", _steps(self.pattern))

    def matches(self, path: str) -> bool:
        """Whether this rule's pattern covers ``path`` (repo-relative, ``/``-separated)."""
        return _walk(self._steps, _normalize(path).split("/"))


@dataclass(frozen=True, slots=True)
class CodeOwners:
    """The valid rules of a CODEOWNERS file, in file order, and what is wrong with it."""

    rules: tuple[Rule, ...]
    findings: tuple[Finding, ...]

    def owners_for(self, path: str) -> Rule | None:
        """The last rule matching ``path``, or None when no rule does.

        A matching rule with no owners means the path is explicitly unowned.
        """
        return next((rule for rule in reversed(self.rules) if rule.matches(path)), None)


def parse_codeowners(text: str, file: str = "CODEOWNERS") -> CodeOwners:
    """Parse CODEOWNERS text; problems become findings, invalid lines are skipped."""
    rules: list[Rule] = []
    findings: list[Finding] = []
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        message = f"file is {size} bytes; GitHub does not load CODEOWNERS over 3 MB ({MAX_BYTES})"
        findings.append(Finding(TOO_LARGE, Severity.ERROR, Location(file), message, TOO_LARGE_HINT))
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        tokens = _tokens(raw.removesuffix("\r"))
        if not tokens:
            continue
        problems = _problems(tokens)
        findings.extend(_invalid(file, number, column, message) for column, message in problems)
        if not problems:
            rules.append(Rule(tokens[0][1], tuple(owner for _, owner in tokens[1:]), number))
    return CodeOwners(tuple(rules), tuple(findings))


def _tokens(line: str) -> list[tuple[int, str]]:
    """Whitespace-separated tokens with 1-based columns, up to a ``#`` that starts a token."""
    tokens: list[tuple[int, str]] = []
    start, i = -1, 0
    while i < len(line):
        char = line[i]
        if char in " \t":
            if start >= 0:
                tokens.append((start + 1, line[start:i]))
                start = -1
        elif char == "#" and start < 0:
            break
        else:
            start = i if start < 0 else start
            if char == "\\":
                i += 1  # the escaped character belongs to the token
        i += 1
    if start >= 0:
        tokens.append((start + 1, line[start:]))
    return tokens


def _problems(tokens: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(column, message) for each invalid token of a line: the pattern, then each owner."""
    (column, pattern), owners = tokens[0], tokens[1:]
    problems = [(column, message) for message in [_pattern_problem(pattern)] if message]
    problems += [
        (column, f"invalid owner '{owner}': expected @user, @org/team or an email address")
        for column, owner in owners
        if not _OWNER.fullmatch(owner)
    ]
    return problems


def _pattern_problem(pattern: str) -> str | None:
    chars = list(_chars(pattern))
    if pattern.startswith("!"):
        return NEGATION
    if pattern.startswith("\\#"):
        return ESCAPED_HASH
    if ("[", False) in chars:
        return RANGES
    if chars[-1] == ("\\", False):
        return f"pattern '{pattern}' ends with a backslash that escapes nothing"
    return None


def _invalid(file: str, line: int, column: int, message: str) -> Finding:
    location = Location(file, line, column)
    return Finding(INVALID_LINE, Severity.ERROR, location, message, INVALID_LINE_HINT)


def _chars(pattern: str) -> Iterator[tuple[str, bool]]:
    """Each character and whether a backslash escaped it; a lone final ``\\`` is unescaped."""
    chars = iter(pattern)
    for char in chars:
        escaped = next(chars, None) if char == "\\" else None
        yield (char, False) if escaped is None else (escaped, True)


def _normalize(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


Glob = tuple[tuple[str, bool], ...]
"""One path segment's pattern: each character and whether a backslash escaped it."""
Step = Glob | None
"""What the next path segments must be: one segment matching a glob, or (None) any number
of segments, none included."""
_ONE: Glob = (("*", False),)


def _steps(pattern: str) -> tuple[Step, ...]:
    """gitignore matching as GitHub applies it, for a whole file path, segment by segment.

    A leading or inner ``/`` anchors the pattern at the root, otherwise it matches at any
    depth. A trailing ``/`` matches only what is inside a directory; a final ``*`` segment
    only files directly in its directory (``docs/*``); any other final segment also
    matches everything beneath a directory of that name.
    """
    body = pattern.removeprefix("/")
    directory = body.endswith("/")
    body = body.removesuffix("/")
    anchored = pattern.startswith("/") or "/" in body
    *inner, last = body.split("/")
    steps: list[Step] = [] if anchored else [None]
    steps += [None if segment == "**" else tuple(_chars(segment)) for segment in inner]
    return tuple(steps + _last_steps(last, directory))


def _last_steps(segment: str, directory: bool) -> list[Step]:
    if segment == "**":
        return [_ONE, _ONE, None] if directory else [_ONE, None]
    if directory:
        return [tuple(_chars(segment)), _ONE, None]
    if segment == "*":
        return [_ONE]
    return [tuple(_chars(segment)), None]


def _walk(steps: tuple[Step, ...], names: list[str]) -> bool:
    """Whether the path segments ``names`` follow ``steps``: the set of positions reachable
    after each step, so that no pattern can make matching slow (a regular expression of
    many ``*`` backtracks exponentially on a path it does not match)."""
    reached = {0}
    for step in steps:
        if step is None:
            reached = set(range(min(reached), len(names) + 1)) if reached else reached
        else:
            reached = {at + 1 for at in reached if at < len(names) and _glob(step, names[at])}
    return len(names) in reached


def _glob(glob: Glob, name: str) -> bool:
    """Whether one path segment (never empty) matches ``glob`` (``*`` any run, ``?`` one
    character): the greedy match that returns to the last ``*``, in at most
    len(glob) × len(name) steps."""
    if not name:
        return False
    at = spot = 0
    star: int | None = None
    while spot < len(name):
        if at < len(glob) and glob[at] == ("*", False):
            star, resume = at, spot
            at += 1
        elif at < len(glob) and (glob[at] == ("?", False) or glob[at][0] == name[spot]):
            at, spot = at + 1, spot + 1
        elif star is not None:
            resume += 1
            at, spot = star + 1, resume
        else:
            return False
    return all(item == ("*", False) for item in glob[at:])


LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
"""Where GitHub looks for the file, in order; the first one found is used."""


def find_file(root: Path) -> str | None:
    """The repository-relative path of the CODEOWNERS file GitHub would use, if any."""
    return next((path for path in LOCATIONS if (root / path).is_file()), None)


def read(root: Path, path: str) -> CodeOwners:
    """Parse ``root/path``; undecodable bytes become a finding rather than an error."""
    data = (root / path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line}"
        finding = Finding(INVALID_LINE, Severity.ERROR, Location(path, line), message)
        return CodeOwners((), (finding,))
    return parse_codeowners(text, path)
