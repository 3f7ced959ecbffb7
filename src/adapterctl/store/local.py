"""A stored artifact read where it lies: in place, fetched to a temporary folder, or streamed."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache, FileDigest, digest_directory

_CHUNK = 8 * 1024 * 1024


@contextmanager
def local_copy(store: Store, digest: str, prefix: str = "adapterctl-") -> Iterator[Path]:
    """The artifact as a local folder: in place for a filesystem store, else fetched into a
    temporary folder (named ``prefix``…) that is removed afterwards."""
    found = store.local_path(digest)
    if found is not None:
        yield found
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(tmp) / digest.removeprefix("sha256:")
        store.fetch(digest, folder)
        yield folder


def stored_file_digests(
    store: Store, digest: str, cache: DigestCache | None = None
) -> list[FileDigest]:
    """Every file of a stored artifact with its digest: hashed in place for a filesystem
    store (through ``cache``), else streamed from the store without a local copy."""
    found = store.local_path(digest)
    if found is not None:
        return list(digest_directory(found, cache=cache).files)
    return [
        FileDigest(name=name, digest=_streamed(store, digest, name), size=size)
        for name, size in store.files(digest).items()
    ]


def _streamed(store: Store, digest: str, name: str) -> str:
    hasher = hashlib.sha256()
    with store.open(digest, name) as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()
