"""The artifact store Protocol and the errors every backend raises."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from adapterctl.errors import InputError

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class StoreError(InputError):
    """A store cannot be reached, or does not hold what was asked for."""


def check_digest(digest: str) -> str:
    """The hex part of ``sha256:<hex>``; refuses anything else (no path tricks)."""
    if not DIGEST.match(digest):
        raise StoreError(f"'{digest}' is not an artifact digest (sha256:<64 hex digits>)")
    return digest.removeprefix("sha256:")


def check_name(name: str) -> str:
    """A file name inside an artifact: one path component, no '..', no separators."""
    if not FILE_NAME.match(name) or name in (".", ".."):
        raise StoreError(f"'{name}' is not a valid artifact file name (it would escape the store)")
    return name


def relative_key(digest: str, name: str | None = None) -> str:
    """``sha256/<hex>[/<name>]``: the layout shared by every backend."""
    key = f"sha256/{check_digest(digest)}"
    return key if name is None else f"{key}/{check_name(name)}"


class Store(Protocol):
    """What every backend offers. Artifacts are immutable: written once, never changed."""

    uri: str

    def exists(self, digest: str) -> bool:
        """Whether an artifact with this digest is complete in the store."""
        ...

    def files(self, digest: str) -> dict[str, int]:
        """File name → size of a stored artifact; StoreError when it is not there."""
        ...

    def put(self, digest: str, source: Path) -> bool:
        """Store the flat directory ``source`` under ``digest`` atomically.

        Returns False (and writes nothing) when the artifact is already stored. Safe
        under concurrent writers of the same digest: one wins, the others see it.
        """
        ...

    def open(self, digest: str, name: str) -> BinaryIO:
        """A binary stream of one stored file."""
        ...

    def read_range(self, digest: str, name: str, start: int, length: int) -> bytes:
        """``length`` bytes of one stored file from ``start`` (fewer at its end)."""
        ...

    def fetch(self, digest: str, target: Path) -> None:
        """Copy the artifact into the new directory ``target`` (created by this call)."""
        ...

    def digests(self) -> Iterator[str]:
        """Every stored artifact digest (``sha256:<hex>``)."""
        ...

    def delete(self, digest: str) -> None:
        """Remove a stored artifact (garbage collection only)."""
        ...

    def local_path(self, digest: str) -> Path | None:
        """The artifact's directory when the store is a local filesystem, else None."""
        ...
