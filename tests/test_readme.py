"""The README's CLI reference is the one ``--help`` shows, and its links resolve."""

from __future__ import annotations

import re
import runpy

from tests.conftest import REPO

GENERATOR = REPO / "scripts" / "cli_reference.py"


def test_cli_reference_matches_help() -> None:
    generator = runpy.run_path(str(GENERATOR))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme == generator["_readme_with"](generator["reference"]()), (
        "README.md's CLI reference differs from --help: run python scripts/cli_reference.py --write"
    )


def test_every_command_is_in_the_reference() -> None:
    generator = runpy.run_path(str(GENERATOR))
    text = generator["reference"]()
    for name in ("promote", "rollback", "gc", "sync", "agent", "status", "render", "triage"):
        assert f"### `adapterctl {name}`" in text
    assert "### `adapterctl policy check`" in text


def test_relative_links_in_readme_and_docs_resolve() -> None:
    for document in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (document.parent / target).resolve()
            assert path.exists(), f"{document.relative_to(REPO)} links to missing {target}"
