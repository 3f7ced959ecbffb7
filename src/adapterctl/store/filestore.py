"""The ``file://`` backend: artifacts as read-only folders ``<root>/sha256/<hex>/<files>``.

Writes are atomic: files are copied and fsynced into ``<root>/sha256/.tmp-<hex>-<random>``
and that folder is renamed to its final name in one step, so a reader sees either nothing
or the whole artifact. Deletes are the same in reverse (rename away, then remove).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from adapterctl.store.base import StoreError, check_name, relative_key

TEMP_PREFIX = ".tmp-"
HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def source_files(source: Path) -> list[Path]:
    """The regular files of the flat folder ``source``; refuses anything else in it."""
    if not source.is_dir():
        raise StoreError(f"cannot store {source}: it is not a folder")
    files: list[Path] = []
    for path in sorted(source.iterdir()):
        if path.is_symlink():
            raise StoreError(f"cannot store {source}: {path.name} is a symlink (copy the file)")
        if path.is_dir():
            raise StoreError(f"cannot store {source}: {path.name} is a folder (artifacts are flat)")
        if not path.is_file():
            raise StoreError(f"cannot store {source}: {path.name} is not a regular file")
        check_name(path.name)
        files.append(path)
    if not files:
        raise StoreError(f"cannot store {source}: the folder is empty")
    return files


def fetch_into(target: Path, fill: Callable[[Path], None]) -> None:
    """Create ``target`` whole or not at all: ``fill`` a sibling temp folder, then rename it."""
    if target.exists() or target.is_symlink():
        raise StoreError(f"cannot fetch into {target}: it already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{target.name}-", dir=target.parent))
    try:
        fill(temp)
        temp.chmod(0o755)
        try:
            temp.rename(target)
        except OSError as error:
            raise StoreError(f"cannot fetch into {target}: {error.strerror}") from error
    finally:
        if temp.exists():
            shutil.rmtree(temp)


class FileStore:
    """A content-addressed store in a local (or mounted) folder."""

    def __init__(self, root: Path, uri: str) -> None:
        self.root = root
        self.uri = uri

    def exists(self, digest: str) -> bool:
        return self._artifact(digest).is_dir()

    def files(self, digest: str) -> dict[str, int]:
        folder = self._existing(digest)
        sizes: dict[str, int] = {}
        for path in sorted(folder.iterdir()):
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                raise StoreError(
                    f"artifact {digest} in the store {self.uri} is damaged: "
                    f"{path.name} is not a regular file"
                )
            sizes[path.name] = info.st_size
        return sizes

    def put(self, digest: str, source: Path) -> bool:
        final = self._artifact(digest)
        if final.is_dir():
            return False
        files = source_files(source)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{final.name}-", dir=final.parent))
        try:
            for path in files:
                _copy_synced(path, temp / path.name)
            temp.chmod(0o555)
            _fsync_dir(temp)
            return self._publish(temp, final)
        finally:
            if temp.exists():
                _remove_tree(temp)

    def open(self, digest: str, name: str) -> BinaryIO:
        return self._file(digest, name).open("rb")

    def read_range(self, digest: str, name: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError(f"invalid byte range: start={start}, length={length}")
        with self._file(digest, name).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def fetch(self, digest: str, target: Path) -> None:
        folder = self._existing(digest)
        names = list(self.files(digest))

        def fill(temp: Path) -> None:
            for name in names:
                shutil.copyfile(folder / name, temp / name, follow_symlinks=False)

        fetch_into(target, fill)

    def digests(self) -> Iterator[str]:
        objects = self.root / "sha256"
        if not objects.is_dir():
            return
        for path in sorted(objects.iterdir()):
            if HEX.match(path.name) and path.is_dir() and not path.is_symlink():
                yield f"sha256:{path.name}"

    def delete(self, digest: str) -> None:
        folder = self._existing(digest)
        doomed = folder.with_name(f"{TEMP_PREFIX}{folder.name}-{secrets.token_hex(8)}")
        folder.rename(doomed)  # the artifact disappears in one step
        _remove_tree(doomed)

    def local_path(self, digest: str) -> Path | None:
        return self._existing(digest)

    def _publish(self, temp: Path, final: Path) -> bool:
        try:
            temp.rename(final)
        except OSError as error:
            if final.is_dir():
                return False  # another writer stored it first
            raise StoreError(f"cannot write to the store {self.uri}: {error}") from error
        _fsync_dir(final.parent)
        return True

    def _artifact(self, digest: str) -> Path:
        return self._inside(self.root / relative_key(digest))

    def _existing(self, digest: str) -> Path:
        folder = self._artifact(digest)
        if not folder.is_dir():
            raise StoreError(f"artifact {digest} is not in the store {self.uri}")
        return folder

    def _file(self, digest: str, name: str) -> Path:
        check_name(name)
        path = self._inside(self._existing(digest) / name)
        if not path.is_file():
            raise StoreError(f"artifact {digest} in the store {self.uri} has no file '{name}'")
        return path

    def _inside(self, path: Path) -> Path:
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise StoreError(f"{path} resolves outside the store {self.uri}; refusing to use it")
        return path


def _copy_synced(source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("xb") as writer:
        shutil.copyfileobj(reader, writer, _CHUNK)
        writer.flush()
        os.fsync(writer.fileno())
    target.chmod(0o444)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    """Remove a (read-only) artifact folder: make it writable first."""
    path.chmod(0o755)
    for child in path.iterdir():
        if not child.is_symlink():
            child.chmod(0o644)
    shutil.rmtree(path)
