#!/usr/bin/env python3
"""List the environments whose files changed between two commits, as a JSON list.

    scripts/changed-environments.py BASE HEAD [--lines] [--signed-only]

The sync workflow uses the list as its matrix: one sync per changed environment that still
exists at HEAD. With a BASE git does not have (the all-zero SHA of a new branch, a force
push), every environment at HEAD is listed. ``--signed-only`` keeps the environments whose
``promotion.require_signed_commits`` is true, read at BASE when the environment exists
there (a change cannot switch the requirement off for itself), else at HEAD.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gitchanges import changed_paths, load_yaml, show

ROOT = Path(__file__).resolve().parent.parent


def changed_environments(root: Path, base: str, head: str) -> list[str]:
    names = {p.split("/")[1] for p in changed_paths(root, base, head, "environments/")}
    return sorted(n for n in names if show(root, head, _env_file(n)) is not None)


def requires_signed_commits(root: Path, base: str, head: str, name: str) -> bool:
    text = show(root, base, _env_file(name)) or show(root, head, _env_file(name)) or ""
    doc = load_yaml(text)
    promotion = doc.get("promotion") if isinstance(doc, dict) else None
    return isinstance(promotion, dict) and promotion.get("require_signed_commits") is True


def _env_file(name: str) -> str:
    return f"environments/{name}/environment.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit before the change (may be all zeros)")
    parser.add_argument("head", help="the commit after the change")
    parser.add_argument("--lines", action="store_true", help="one name a line, not JSON")
    parser.add_argument("--signed-only", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help="the git repository")
    args = parser.parse_args()
    names = changed_environments(args.root, args.base, args.head)
    if args.signed_only:
        names = [n for n in names if requires_signed_commits(args.root, args.base, args.head, n)]
    print("\n".join(names) if args.lines else json.dumps(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
