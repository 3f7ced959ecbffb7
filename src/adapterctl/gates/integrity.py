"""The integrity gate: an artifact holds exactly the files its manifest lists, byte for byte.

Refused in any artifact: symbolic links, pickle files (arbitrary code on load), files a
PEFT LoRA adapter does not have, executables. Stored artifacts are re-hashed (with the
digest cache for local stores) and compared file by file, then as a whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.model import AdapterRevision
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache, FileDigest, subject_digest
from adapterctl.store.local import stored_file_digests

Locate = Callable[[JsonPath], Location]
REQUIRED = ("adapter_config.json", "adapter_model.safetensors")
ALLOWED = (*REQUIRED, "README.md")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz")
_CHUNK = 8 * 1024 * 1024


def _error(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"integrity/{rule}", Severity.ERROR, location, message, hint)


TRAINING_HINT = (
    "the training hand-over record is not part of the artifact: keep it beside the "
    "adapter folder and pass --training FILE"
)


def check_directory(path: Path, locate: Locate) -> list[Finding]:
    """Layout of an adapter directory before it is registered."""
    findings = [
        _error("missing-file", locate(("artifact", "files", name)), f"{name} is missing")
        for name in REQUIRED
        if not (path / name).is_file() or (path / name).is_symlink()
    ]
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        problem = _entry_problem(entry)
        if problem:
            where = locate(("artifact", "files", entry.name))
            findings.append(_error(problem[0], where, f"{entry.name}: {problem[1]}", problem[2]))
    return findings


def _entry_problem(entry: os.DirEntry[str]) -> tuple[str, str, str | None] | None:
    if entry.is_symlink():
        return "symlink", "symbolic links are refused in an artifact", "copy the real file in"
    if entry.is_dir():
        return "unexpected-file", "folders are refused in a LoRA artifact", None
    if entry.name.endswith(PICKLE_SUFFIXES):
        hint = "pickle files run code when loaded; save weights with safetensors"
        return "pickle", "pickle files are refused", hint
    if entry.name not in ALLOWED:
        allowed = ", ".join(ALLOWED)
        message = f"not part of a PEFT LoRA adapter (allowed: {allowed})"
        return "unexpected-file", message, TRAINING_HINT if entry.name == "training.yaml" else None
    if entry.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        return "executable", "executable files are refused in an artifact", "chmod -x it"
    return None


def check_stored(
    revision: AdapterRevision, store: Store, locate: Locate, cache: DigestCache | None = None
) -> list[Finding]:
    """The stored artifact against the manifest: file list, sizes, digests, subject digest."""
    artifact = revision.artifact
    if not store.exists(artifact.digest):
        message = f"artifact {artifact.digest} is not in the store {store.uri}"
        hint = "register the adapter (it uploads the artifact), or check --store"
        return [_error("missing-artifact", locate(("artifact", "digest")), message, hint)]
    stored = store.files(artifact.digest)
    findings = _file_list(revision, stored, locate)
    if findings:
        return findings
    digests = stored_file_digests(store, artifact.digest, cache)
    findings = _file_digests(revision, digests, locate)
    actual = subject_digest(digests)
    if not findings and actual != artifact.digest:
        message = f"the files hash to {actual}, not to the manifest's digest"
        findings.append(_error("digest-mismatch", locate(("artifact", "digest")), message))
    return findings


def _file_list(revision: AdapterRevision, stored: dict[str, int], locate: Locate) -> list[Finding]:
    listed = revision.artifact.files
    findings = [
        _error("missing-file", locate(("artifact", "files", name)), f"{name} is not in the store")
        for name in sorted(set(listed) - set(stored))
    ]
    findings += [
        _error("unexpected-file", locate(("artifact", "files")), f"{name} is stored but not listed")
        for name in sorted(set(stored) - set(listed))
    ]
    findings += [
        _error(
            "size-mismatch",
            locate(("artifact", "files", name, "size")),
            f"{name} is {stored[name]:,} bytes in the store; the manifest says {entry.size:,}",
        )
        for name, entry in sorted(listed.items())
        if name in stored and stored[name] != entry.size
    ]
    return findings


def _file_digests(
    revision: AdapterRevision, digests: list[FileDigest], locate: Locate
) -> list[Finding]:
    findings = []
    for item in digests:
        expected = revision.artifact.files[item.name].digest
        if item.digest != expected:
            findings.append(
                _error(
                    "digest-mismatch",
                    locate(("artifact", "files", item.name, "digest")),
                    f"{item.name} hashes to {item.digest}; the manifest records {expected}",
                    "the artifact was changed after registration: do not serve it",
                )
            )
    return findings
