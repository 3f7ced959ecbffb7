"""The archive ``gc --apply`` writes before it deletes anything.

``<dir>/adapterctl-gc-<UTC yyyymmddTHHMMSSZ>.tar.gz`` holds, for each revision whose
artifact is deleted, its manifest ``adapters/<name>/<version>.yaml``, its signature bundle
``adapters/<name>/<version>.sigstore.json`` when there is one, and
``digests/<name>@<version>.json`` (the artifact digest, and each file's digest and size);
plus ``gc-plan.json``, the whole plan. The tar is written to a temporary file in the same
folder and linked to its final name only when complete, so the archive is there whole or
not at all.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import InputError, UsageError
from adapterctl.gitops.gcplan import Item
from adapterctl.registry import Registry

PLAN_MEMBER = "gc-plan.json"
DIGESTS_FORMAT = "adapterctl/gc-digests/v1"


def archive_name(now: datetime) -> str:
    """``adapterctl-gc-<UTC yyyymmddTHHMMSSZ>.tar.gz`` for ``now`` (an aware datetime)."""
    return f"adapterctl-gc-{now:%Y%m%dT%H%M%SZ}.tar.gz"


def write_archive(
    folder: Path, registry: Registry, doomed: tuple[Item, ...], plan_json: str, now: datetime
) -> Path:
    """Write the archive of ``doomed`` into ``folder``; its path. Nothing half-written."""
    if not folder.is_dir():
        raise UsageError(f"--archive {folder}: not a directory (create it first)")
    final = folder / archive_name(now)
    members = _members(registry, doomed, plan_json)
    try:
        _write(final, members, now.timestamp())
    except FileExistsError:
        raise InputError(
            f"cannot write the archive: {final} already exists; nothing was deleted",
            hint="run gc again in a second",
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot write the archive in {folder}: {exc.strerror or exc}; nothing was deleted"
        ) from None
    return final


def _members(registry: Registry, doomed: tuple[Item, ...], plan_json: str) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for item in doomed:
        for revision in item.revisions:
            name, _, version = revision.partition("@")
            members.update(_revision_members(registry, name, version, item))
    members[PLAN_MEMBER] = plan_json.encode()
    return members


def _revision_members(registry: Registry, name: str, version: str, item: Item) -> dict[str, bytes]:
    manifest = layout.revision_path(name, version)
    bundle = layout.bundle_path(name, version)
    members = {manifest: (registry.root / manifest).read_bytes()}
    if (registry.root / bundle).is_file():
        members[bundle] = (registry.root / bundle).read_bytes()
    members[f"digests/{name}@{version}.json"] = _digests(registry, name, version, item)
    return members


def _digests(registry: Registry, name: str, version: str, item: Item) -> bytes:
    revision = registry.revision(name, version)
    files = {} if revision is None else revision.artifact.files
    document = {
        "format": DIGESTS_FORMAT,
        "revision": f"{name}@{version}",
        "digest": item.digest,
        "files": {
            file: {"digest": entry.digest, "size": entry.size} for file, entry in files.items()
        },
        "stored": item.files,
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _write(final: Path, members: dict[str, bytes], mtime: float) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                for name, data in sorted(members.items()):
                    _add(tar, name, data, mtime)
            raw.flush()
            os.fsync(raw.fileno())
        os.link(temp, final)  # fails if the name exists: never replace an archive
    finally:
        Path(temp).unlink(missing_ok=True)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
