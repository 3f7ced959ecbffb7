#!/usr/bin/env python3
"""List the adapter revisions a change adds or edits, one NAME@VERSION a line.

    scripts/changed-revisions.py BASE HEAD [--promoted]
    scripts/changed-revisions.py BASE HEAD --merged-bases

A revision counts when its manifest (adapters/NAME/VERSION.yaml) or its signature bundle
(adapters/NAME/VERSION.sigstore.json) changed and the manifest exists at HEAD. With
--promoted, also every revision a changed environment gives more traffic to (a higher
weight, or canary tenants it did not have): the revisions whose signers the separation of
duties must know. The workflows hand the list to `adapterctl verify` and to the golden and
pressure gates. With --merged-bases instead, the merged bases a change adds or edits
(bases/NAME/REV.yaml or its .sigstore.json changed, and the manifest at HEAD has a merge
record), one NAME@REV a line, for `adapterctl verify --base`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml
from gitchanges import changed_paths, git, is_commit, load_yaml, show

ROOT = Path(__file__).resolve().parent.parent
REVISION_FILE = re.compile(r"^adapters/([^/]+)/([^/]+?)(?:\.sigstore\.json|\.yaml)$")
BASE_FILE = re.compile(r"^bases/([^/]+)/([^/]+?)(?:\.sigstore\.json|\.yaml)$")
ENVIRONMENT_FILE = re.compile(r"^environments/[^/]+/environment\.yaml$")
Routes = dict[str, tuple[int, frozenset[str]]]


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


def merged_bases(root: Path, base: str, head: str) -> list[str]:
    found = set()
    for path in changed_paths(root, base, head, "bases/"):
        match = BASE_FILE.match(path)
        if match is None:
            continue
        name, revision = match.groups()
        try:
            document = load_yaml(show(root, head, f"bases/{name}/{revision}.yaml") or "")
        except yaml.YAMLError:  # the validate gate reports it
            continue
        if isinstance(document, dict) and document.get("merge") is not None:
            found.add(f"{name}@{revision}")
    return sorted(found)


def promoted_revisions(root: Path, base: str, head: str) -> list[str]:
    """Revisions a changed environment file routes more traffic to than at the merge base."""
    start = git(root, "merge-base", base, head).strip() if is_commit(root, base) else None
    found = set()
    for path in changed_paths(root, base, head, "environments/"):
        if not ENVIRONMENT_FILE.match(path):
            continue
        before = _routes(show(root, start, path) if start else None)
        for label, (weight, tenants) in _routes(show(root, head, path)).items():
            old_weight, old_tenants = before.get(label, (0, frozenset()))
            if weight > old_weight or tenants - old_tenants:
                found.add(label)
    return sorted(found)


def _routes(text: str | None) -> Routes:
    """``alias@version`` → (weight, tenants) of an environment file (nothing if unreadable:
    the validate gate reports a broken file)."""
    try:
        document = load_yaml(text or "")
    except yaml.YAMLError:  # the validate gate reports it
        return {}
    routes = document.get("routes") if isinstance(document, dict) else None
    found: Routes = {}
    for alias, entries in (routes or {}).items() if isinstance(routes, dict) else ():
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and "version" in entry:
                weight = entry.get("weight")
                tenants = entry.get("tenants")
                found[f"{alias}@{entry['version']}"] = (
                    weight if isinstance(weight, int) else 0,
                    frozenset(map(str, tenants)) if isinstance(tenants, list) else frozenset(),
                )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the target branch (e.g. origin/main)")
    parser.add_argument("head", help="the pull request's head commit")
    parser.add_argument("--root", type=Path, default=ROOT, help="the git repository")
    more = "also the revisions a changed environment gives more traffic to"
    parser.add_argument("--promoted", action="store_true", help=more)
    merged = "instead: the merged bases the change adds or edits"
    parser.add_argument("--merged-bases", action="store_true", help=merged)
    args = parser.parse_args()
    if args.merged_bases:
        print(
            "".join(f"{found}\n" for found in merged_bases(args.root, args.base, args.head)), end=""
        )
        return 0
    found = set(changed_revisions(args.root, args.base, args.head))
    if args.promoted:
        found.update(promoted_revisions(args.root, args.base, args.head))
    for revision in sorted(found):
        print(revision)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
