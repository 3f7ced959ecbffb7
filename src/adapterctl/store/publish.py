"""Putting an artifact into the store once: an existing copy must hold the same bytes.

A digest folder (``sha256/<hex>``) is written once and never replaced. When it is already
there, :func:`publish` hashes the stored copy and compares it with what is being
registered, file by file: the same content is fine (nothing is written), other content is
refused. Other content under the same digest means the stored copy was changed after it
was written (or was written by something that does not hash what it stores): it must be
investigated, not overwritten, and no manifest may point at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adapterctl.store.base import Store, StoreError
from adapterctl.store.digests import FileDigest
from adapterctl.store.local import stored_file_digests

OVERWRITE_HINT = (
    "a stored artifact is never overwritten: ask the store's owners to find out who changed "
    "it and to remove it (docs/store.md), then register again"
)


def publish(
    store: Store, digest: str, source: Path, files: Sequence[FileDigest], shown: Path | None = None
) -> bool:
    """Store ``source`` (whose files hash to ``files``) under ``digest``; messages name
    ``shown`` (default: ``source``) as where the files come from.

    Returns True when it was written, False when the store already held the same content;
    StoreError when the store holds other content under that digest.
    """
    if store.put(digest, source):
        return True
    differences = _differences(store, digest, {item.name: item.digest for item in files})
    if differences:
        raise StoreError(
            f"the store {store.uri} already holds {digest} with other content than "
            f"{shown or source}: {'; '.join(differences)}; refusing to overwrite it",
            hint=OVERWRITE_HINT,
        )
    return False


def _differences(store: Store, digest: str, wanted: dict[str, str]) -> list[str]:
    stored = {item.name: item.digest for item in stored_file_digests(store, digest)}
    found = [f"{name} is not in the stored copy" for name in sorted(wanted.keys() - stored)]
    found += [f"{name} is only in the stored copy" for name in sorted(stored.keys() - wanted)]
    found += [
        f"{name} differs (sha256 {_short(stored[name])}… in the store, "
        f"{_short(wanted[name])}… here)"
        for name in sorted(wanted.keys() & stored.keys())
        if stored[name] != wanted[name]
    ]
    return found


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]
