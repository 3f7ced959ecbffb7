#!/usr/bin/env python3
"""List the adapter revisions a change adds or edits, one NAME@VERSION a line.

    scripts/changed-revisions.py BASE HEAD

A revision counts when its manifest (adapters/NAME/VERSION.yaml) or its signature bundle
(adapters/NAME/VERSION.sigstore.json) changed and the manifest exists at HEAD. The
workflows hand the list to `adapterctl verify` and to the golden and pressure gates.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from gitchanges import changed_paths, show

ROOT = Path(__file__).resolve().parent.parent
REVISION_FILE = re.compile(r"^adapters/([^/]+)/([^/]+?)(?:\.sigstore\.json|\.yaml)$")


def changed_revisions(root: Path, base: str, head: str) -> list[str]:
    found = set()
    for path in changed_paths(root, base, head, "adapters/"):
        match = REVISION_FILE.match(path)
        if match is None or match.group(2) == "adapter":
            continue
        name, version = match.groups()
        if show(root, head, f"adapters/{name}/{version}.yaml") is not None:
            found.add(f"{name}@{version}")
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the target branch (e.g. origin/main)")
    parser.add_argument("head", help="the pull request's head commit")
    parser.add_argument("--root", type=Path, default=ROOT, help="the git repository")
    args = parser.parse_args()
    for revision in changed_revisions(args.root, args.base, args.head):
        print(revision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
