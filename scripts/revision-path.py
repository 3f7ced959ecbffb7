#!/usr/bin/env python3
"""Print where a revision's artifact lies in a file:// store, for vLLM's lora_path.

    scripts/revision-path.py NAME@VERSION    ->  STORE/sha256/<hex>
    scripts/revision-path.py --store-root    ->  STORE

The store is $ADAPTERCTL_STORE, else `store` in pyproject.toml's [tool.adapterctl]; a
relative file:// path resolves against the repository root. Other stores (s3://) are
refused: a GPU runner serves adapters from a file system it can read.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def store_root(root: Path) -> Path:
    uri = os.environ.get("ADAPTERCTL_STORE") or _configured_store(root)
    if not uri.startswith("file://"):
        raise SystemExit(f"revision-path: {uri!r} is not a file:// store")
    path = Path(uri.removeprefix("file://"))
    return path if path.is_absolute() else root / path


def artifact_dir(root: Path, revision: str) -> Path:
    name, sep, version = revision.partition("@")
    manifest = root / "adapters" / name / f"{version}.yaml"
    if not sep or "/" in revision or not manifest.is_file():
        raise SystemExit(f"revision-path: no revision {revision!r} (no {manifest})")
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    digest = str(doc["artifact"]["digest"])
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64:
        raise SystemExit(f"revision-path: {manifest}: unexpected artifact digest {digest!r}")
    return store_root(root) / "sha256" / hexdigest


def _configured_store(root: Path) -> str:
    with (root / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["tool"]["adapterctl"]["store"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", help="NAME@VERSION")
    parser.add_argument("--store-root", action="store_true", help="print the store's folder")
    args = parser.parse_args()
    if args.store_root == bool(args.revision):
        parser.error("give NAME@VERSION or --store-root")
    path = store_root(ROOT) if args.store_root else artifact_dir(ROOT, args.revision)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
