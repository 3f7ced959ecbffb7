"""CODEOWNERS parsing and matching, against GitHub's documented semantics."""

from __future__ import annotations

import pytest

from adapterctl.codeowners import (
    INVALID_LINE_HINT,
    MAX_BYTES,
    CodeOwners,
    Rule,
    parse_codeowners,
)
from adapterctl.findings import Finding, Location, Severity

# GitHub's example CODEOWNERS file ("About code owners"), comments shortened.
GITHUB_EXAMPLE = """\
# This is a comment.
# Each line is a file pattern followed by one or more owners.

*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/* docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""

GLOBAL = ("@global-owner1", "@global-owner2")


def _owner_rule(codeowners: CodeOwners, path: str) -> tuple[str, tuple[str, ...], int] | None:
    rule = codeowners.owners_for(path)
    return None if rule is None else (rule.pattern, rule.owners, rule.line)


def test_github_example_parses_without_findings() -> None:
    parsed = parse_codeowners(GITHUB_EXAMPLE)
    assert parsed.findings == ()
    assert [(rule.pattern, rule.owners, rule.line) for rule in parsed.rules] == [
        ("*", GLOBAL, 4),
        ("*.js", ("@js-owner",), 5),
        ("*.go", ("docs@example.com",), 6),
        ("*.txt", ("@octo-org/octocats",), 7),
        ("/build/logs/", ("@doctocat",), 8),
        ("docs/*", ("docs@example.com",), 9),
        ("apps/", ("@octocat",), 10),
        ("/docs/", ("@doctocat",), 11),
        ("/scripts/", ("@doctocat", "@octocat"), 12),
        ("**/logs", ("@octocat",), 13),
        ("/apps/", ("@octocat",), 14),
        ("/apps/github", (), 15),
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("README.md", ("*", GLOBAL, 4)),
        ("src/deep/module.py", ("*", GLOBAL, 4)),
        ("src/app.js", ("*.js", ("@js-owner",), 5)),
        ("app.jsx", ("*", GLOBAL, 4)),
        ("cmd/main.go", ("*.go", ("docs@example.com",), 6)),
        ("notes/todo.txt", ("*.txt", ("@octo-org/octocats",), 7)),
        ("build/output.bin", ("*", GLOBAL, 4)),
        # **/logs comes later than /build/logs/, so it wins for build/logs too
        ("build/logs/today.log", ("**/logs", ("@octocat",), 13)),
        ("scripts/logs/run.txt", ("**/logs", ("@octocat",), 13)),
        ("deeply/nested/logs/a.js", ("**/logs", ("@octocat",), 13)),
        ("docs/getting-started.md", ("/docs/", ("@doctocat",), 11)),
        ("docs/build-app/troubleshooting.md", ("/docs/", ("@doctocat",), 11)),
        ("src/docs/index.md", ("*", GLOBAL, 4)),
        ("src/apps/web/main.py", ("apps/", ("@octocat",), 10)),
        ("apps/main.py", ("/apps/", ("@octocat",), 14)),
        ("apps/github.js", ("/apps/", ("@octocat",), 14)),
        ("apps/github/index.js", ("/apps/github", (), 15)),
        ("apps/github", ("/apps/github", (), 15)),
        ("scripts/deploy.sh", ("/scripts/", ("@doctocat", "@octocat"), 12)),
        ("src/scripts/deploy.sh", ("*", GLOBAL, 4)),
        ("./src/app.js", ("*.js", ("@js-owner",), 5)),
    ],
)
def test_github_example_owners(path: str, expected: tuple[str, tuple[str, ...], int]) -> None:
    assert _owner_rule(parse_codeowners(GITHUB_EXAMPLE), path) == expected


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ("/apps/ @octocat\n/apps/github\n", "apps/github/x.py", ("/apps/github", (), 2)),
        ("/apps/ @octocat\n/apps/github\n", "apps/web/x.py", ("/apps/", ("@octocat",), 1)),
        (
            "/apps/ @octocat\n/apps/github @doctocat\n",
            "apps/github/x.py",
            ("/apps/github", ("@doctocat",), 2),
        ),
        ("/apps/github\n/apps/ @octocat\n", "apps/github/x.py", ("/apps/", ("@octocat",), 2)),
        ("*.js @a\n*.js @b\n", "x.js", ("*.js", ("@b",), 2)),
        ("/docs/ @a\n*.md @b\n", "docs/x.md", ("*.md", ("@b",), 2)),
        ("*.md @b\n/docs/ @a\n", "docs/x.md", ("/docs/", ("@a",), 2)),
        ("/docs/ @a\n", "README.md", None),
        ("", "README.md", None),
    ],
)
def test_last_matching_rule_wins(
    text: str, path: str, expected: tuple[str, tuple[str, ...], int] | None
) -> None:
    assert _owner_rule(parse_codeowners(text), path) == expected


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*", "README.md", True),
        ("*", "a/b/c.txt", True),
        ("*.js", "app.js", True),
        ("*.js", "src/lib/app.js", True),
        ("*.js", "app.jsx", False),
        ("*.js", "app.js.map", False),
        ("*.JS", "app.js", False),
        ("/build/logs/", "build/logs/a.log", True),
        ("/build/logs/", "build/logs/deep/a.log", True),
        ("/build/logs/", "build/logs", False),
        ("/build/logs/", "src/build/logs/a.log", False),
        ("docs/*", "docs/getting-started.md", True),
        ("docs/*", "docs/build-app/troubleshooting.md", False),
        ("docs/*", "src/docs/a.md", False),
        ("docs/*", "docs", False),
        ("apps/", "apps/a.py", True),
        ("apps/", "src/apps/a.py", True),
        ("apps/", "src/apps/deep/a.py", True),
        ("apps/", "apps", False),
        ("apps/", "myapps/a.py", False),
        ("/docs/", "docs/a.md", True),
        ("/docs/", "docs/build-app/troubleshooting.md", True),
        ("/docs/", "src/docs/a.md", False),
        ("/scripts/", "scripts/deploy.sh", True),
        ("/scripts/", "src/scripts/deploy.sh", False),
        ("**/logs", "logs/a.log", True),
        ("**/logs", "build/logs/a.log", True),
        ("**/logs", "deeply/nested/logs/a.log", True),
        ("**/logs", "build/logs", True),
        ("**/logs", "catalogs/a.log", False),
        ("**/logs", "build/logsx/a.log", False),
        ("/apps/github", "apps/github", True),
        ("/apps/github", "apps/github/x.py", True),
        ("/apps/github", "apps/githubx", False),
        ("/apps/github", "src/apps/github/x.py", False),
        ("docs", "docs", True),
        ("docs", "docs/a.md", True),
        ("docs", "src/docs/a.md", True),
        ("docs", "documents/a.md", False),
        ("docs/build-app/", "docs/build-app/a.md", True),
        ("docs/build-app/", "src/docs/build-app/a.md", False),
        ("docs/**", "docs/a.md", True),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docs", False),
        ("docs/**", "src/docs/a.md", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/b/c.txt", True),
        ("a/**/b", "a/bb", False),
        ("a/**/b", "x/a/b", False),
        ("**", "a", True),
        ("**", "a/b", True),
        ("/README.md", "README.md", True),
        ("/README.md", "docs/README.md", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file12.txt", False),
        ("file?.txt", "file/.txt", False),
        ("a.b", "axb", False),
        ("\\#notes", "#notes", True),
        ("\\#notes", "a/#notes", True),
        ("\\*.md", "*.md", True),
        ("\\*.md", "a.md", False),
        ("path\\ with\\ space", "path with space", True),
        ("*.js", "./app.js", True),
        ("*.js", "/app.js", True),
    ],
)
def test_pattern_matching(pattern: str, path: str, matches: bool) -> None:
    assert Rule(pattern, (), 1).matches(path) is matches


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# only a comment\n", []),
        ("   # indented comment\n", []),
        ("\n\n   \t\n", []),
        ("*.js @js-owner #This is an inline comment.\n", [("*.js", ("@js-owner",))]),
        ("*.js\t@a\t# tab before comment\n", [("*.js", ("@a",))]),
        ("/apps/github # nobody owns this\n", [("/apps/github", ())]),
        ("a#b @x\n", [("a#b", ("@x",))]),
        ("path\\ with\\ space @a\n", [("path\\ with\\ space", ("@a",))]),
        ("* @a\r\n*.js @b\r\n", [("*", ("@a",)), ("*.js", ("@b",))]),
        ("\ufeff* @a\n", [("*", ("@a",))]),
        ("* @a", [("*", ("@a",))]),
    ],
)
def test_comments_blanks_and_escapes(
    text: str, expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    parsed = parse_codeowners(text)
    assert parsed.findings == ()
    assert [(rule.pattern, rule.owners) for rule in parsed.rules] == expected


@pytest.mark.parametrize(
    "owner",
    [
        "@octocat",
        "@octo-cat",
        "@octocat_acme",
        "@octo-org/octocats",
        "@Octo-Org/Team_1",
        "docs@example.com",
        "first.last+tag@sub.example.co.uk",
    ],
)
def test_valid_owners(owner: str) -> None:
    parsed = parse_codeowners(f"* {owner}\n")
    assert parsed.findings == ()
    assert parsed.rules == (Rule("*", (owner,), 1),)


def _invalid(line: int, column: int, message: str) -> Finding:
    location = Location("CODEOWNERS", line, column)
    return Finding("codeowners/invalid-line", Severity.ERROR, location, message, INVALID_LINE_HINT)


def _bad_owner(owner: str) -> str:
    return f"invalid owner '{owner}': expected @user, @org/team or an email address"


NEGATION = "negation patterns ('!') are not supported by CODEOWNERS"
RANGES = "character ranges ('[...]') are not supported by CODEOWNERS"
ESCAPED_HASH = "escaping a leading '#' with '\\' is not supported by CODEOWNERS"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("* release-managers\n", [(1, 3, _bad_owner("release-managers"))]),
        ("# c\n\n*.py   @ok @\n", [(3, 12, _bad_owner("@"))]),
        ("docs/ @ok @org/team/sub\n", [(1, 11, _bad_owner("@org/team/sub"))]),
        ("* docs@example\n", [(1, 3, _bad_owner("docs@example"))]),
        ("* @user@example.com\n", [(1, 3, _bad_owner("@user@example.com"))]),
        ("* @a#b\n", [(1, 3, _bad_owner("@a#b"))]),
        ("* bad1 @ok bad2\n", [(1, 3, _bad_owner("bad1")), (1, 12, _bad_owner("bad2"))]),
        ("!*.log @a\n", [(1, 1, NEGATION)]),
        ("\\#notes @scribe\n", [(1, 1, ESCAPED_HASH)]),
        ("  !docs/ @a\n", [(1, 3, NEGATION)]),
        ("*.[ch] @a\n", [(1, 1, RANGES)]),
        ("src/[abc]/ @a\n", [(1, 1, RANGES)]),
        ("![a] x\n", [(1, 1, NEGATION), (1, 6, _bad_owner("x"))]),
        ("docs\\", [(1, 1, "pattern 'docs\\' ends with a backslash that escapes nothing")]),
    ],
)
def test_invalid_lines(text: str, expected: list[tuple[int, int, str]]) -> None:
    parsed = parse_codeowners(text)
    assert parsed.findings == tuple(_invalid(*finding) for finding in expected)
    assert parsed.rules == ()


@pytest.mark.parametrize("text", ["\\!important @a\n", "\\[draft\\] @a\n", "a]b @a\n"])
def test_escaped_special_characters_are_valid(text: str) -> None:
    parsed = parse_codeowners(text)
    assert parsed.findings == ()
    assert len(parsed.rules) == 1


def test_invalid_lines_are_skipped_but_others_still_apply() -> None:
    parsed = parse_codeowners("* @global\n*.js js-team\n", file=".github/CODEOWNERS")
    assert parsed.findings == (
        Finding(
            "codeowners/invalid-line",
            Severity.ERROR,
            Location(".github/CODEOWNERS", 2, 6),
            _bad_owner("js-team"),
            INVALID_LINE_HINT,
        ),
    )
    assert _owner_rule(parsed, "app.js") == ("*", ("@global",), 1)


def test_file_over_three_megabytes_is_an_error() -> None:
    text = "* @a\n" + "#" * MAX_BYTES
    size = MAX_BYTES + 5
    parsed = parse_codeowners(text, file="docs/CODEOWNERS")
    assert parsed.findings == (
        Finding(
            "codeowners/too-large",
            Severity.ERROR,
            Location("docs/CODEOWNERS"),
            f"file is {size} bytes; GitHub does not load CODEOWNERS over 3 MB ({MAX_BYTES})",
            "use wildcard patterns to consolidate entries and shrink the file",
        ),
    )


def test_file_of_exactly_three_megabytes_is_fine() -> None:
    assert MAX_BYTES == 3 * 1024 * 1024
    parsed = parse_codeowners("#" * (MAX_BYTES - 2) + "é")
    assert parsed.findings == ()


@pytest.mark.parametrize(
    ("text", "rules", "findings"),
    [
        ("\\", 0, 1),
        ("/ @a", 1, 0),
        ("// @a", 1, 0),
        ("\x00 @a", 1, 0),
        ("\ud800 @a", 1, 0),
        ("\\\n\\  @a\n", 1, 1),
        ("\t#", 0, 0),
    ],
)
def test_odd_content_never_raises(text: str, rules: int, findings: int) -> None:
    parsed = parse_codeowners(text)
    assert (len(parsed.rules), len(parsed.findings)) == (rules, findings)
    assert parsed.owners_for("README.md") is None


def test_rules_are_compared_by_value() -> None:
    assert Rule("*.js", ("@a",), 3) == Rule("*.js", ("@a",), 3)
    assert hash(Rule("*.js", ("@a",), 3)) == hash(Rule("*.js", ("@a",), 3))
    assert repr(Rule("*", (), 1)) == "Rule(pattern='*', owners=(), line=1)"


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60, False),
        ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60 + "b", True),
        ("*" * 68 + "/owners", "adapters/support-bot/1.2.0.yaml", False),
        ("/".join(["**"] * 30) + "/x", "/".join(["a"] * 60), False),
        ("/".join(["**"] * 30) + "/x", "/".join(["a"] * 60) + "/x", True),
    ],
)
def test_many_wildcards_match_in_polynomial_time(pattern: str, path: str, matches: bool) -> None:
    # A regular expression of these (GitHub's wildcards as ``[^/]*``) backtracks for hours on
    # a path it does not match; the codeowners fuzz target found one like the third.
    assert Rule(pattern, ("@owner",), 1).matches(path) is matches
