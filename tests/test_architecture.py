"""The house as docs/architecture.md draws it: every module says what it is for in its first
line, and imports flow one way, from the command line down to the data model (the three
known exceptions listed, so that no new one slips in)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

SOURCE = REPO / "src" / "adapterctl"
LAYERS = (
    ("cli", "__main__"),
    ("gateway",),
    ("serving",),
    ("gitops",),
    ("validation", "checks", "evaluation", "register", "canary", "configfile"),
    ("gates", "pressure", "policy"),
    ("registry", "config", "signing", "changes", "documents", "mergedbases"),
    ("report", "inspect", "layout", "evals", "schemagen", "codeowners", "gitrepo", "merging"),
    ("model", "store", "yamlio", "fsutil", "nodeclient"),
    ("serve", "errors", "findings", "semver", "durations", "latency", "__init__"),
)
"""Top to bottom, as in docs/architecture.md: a module imports its own layer or lower ones."""
UPWARD = {
    ("documents.py", "adapterctl.gates.schema"),
    ("evals/html.py", "adapterctl.gates.golden"),
    ("pressure/pipeline.py", "adapterctl.evaluation"),
}
"""The imports that run back up today (docs/architecture.md says why)."""
LEVEL = {name: index for index, names in enumerate(LAYERS) for name in names}


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name.startswith("adapterctl.")]


def test_every_module_says_what_it_is_for() -> None:
    silent = []
    for path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or not doc.splitlines()[0].strip():
            silent.append(str(path.relative_to(SOURCE)))
    assert silent == []


def test_every_top_level_module_has_a_layer() -> None:
    tops = {path.relative_to(SOURCE).parts[0].removesuffix(".py") for path in _modules()}
    assert sorted(tops - LEVEL.keys()) == []


def test_imports_flow_down() -> None:
    upward = set()
    for path in _modules():
        relative = path.relative_to(SOURCE)
        level = LEVEL[relative.parts[0].removesuffix(".py")]
        for name in _imports(path):
            if LEVEL[name.split(".")[1]] < level:
                upward.add((relative.as_posix(), name))
    assert upward == UPWARD
