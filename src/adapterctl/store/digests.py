"""Artifact digests: per-file SHA-256 and model-signing's subject digest, with a stat cache.

An artifact is a directory of regular files. Its digest is the subject digest that
``model_signing`` (file serialization, SHA-256, default ignore rules) puts in the in-toto
statement it signs: SHA-256 over the raw 32-byte digests of every file, files ordered by
their relative path compared component by component (``a/b`` before ``a-b/x``). As in
``model_signing.hashing.Config``, the top-level ``.git``, ``.github``, ``.gitattributes``
and ``.gitignore`` are not part of the artifact; symbolic links are refused.

Files are hashed in parallel threads (hashlib releases the GIL). A :class:`DigestCache`
remembers digests by (absolute path, size, mtime, ctime, inode) in SQLite, so checking an
unchanged artifact again costs one stat per file and one query.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.store.base import check_digest

CHUNK = 4 << 20
IGNORED = frozenset({".git", ".github", ".gitattributes", ".gitignore"})
_SCHEMA = """CREATE TABLE IF NOT EXISTS digests (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, digest TEXT NOT NULL
) WITHOUT ROWID"""
_buffers = threading.local()


class DigestError(InputError):
    """An artifact directory cannot be digested (symlink, special file, unreadable)."""


@dataclass(frozen=True, slots=True)
class FileDigest:
    name: str  # posix path relative to the artifact dir
    digest: str  # 'sha256:<hex>'
    size: int


@dataclass(frozen=True, slots=True)
class ArtifactDigest:
    digest: str
    files: tuple[FileDigest, ...]  # in model-signing order


@dataclass(frozen=True, slots=True)
class WalkedFile:
    """A regular file found in an artifact, with what its cache entry is keyed by."""

    name: str
    path: str  # absolute
    stamp: tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode

    @classmethod
    def of(cls, name: str, path: str, info: os.stat_result) -> WalkedFile:
        return cls(name, path, (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))


def order_key(name: str) -> tuple[str, ...]:
    """How model-signing sorts manifest items: PurePosixPath order, part by part."""
    return tuple(name.split("/"))


def sha256_file(path: Path) -> str:
    """``sha256:<hex>`` of a file: one read when it is smaller than a chunk, else in chunks
    into one reused per-thread buffer (allocated only by a thread that hashes a large file:
    a sync hashes small adapters in hundreds of short-lived threads)."""
    hasher = hashlib.sha256()
    with path.open("rb", buffering=0) as handle:
        if os.fstat(handle.fileno()).st_size < CHUNK:
            hasher.update(handle.readall())
            return "sha256:" + hasher.hexdigest()
        buffer: memoryview | None = getattr(_buffers, "view", None)
        if buffer is None:
            buffer = _buffers.view = memoryview(bytearray(CHUNK))
        while count := handle.readinto(buffer):
            hasher.update(buffer[:count])
    return "sha256:" + hasher.hexdigest()


def subject_digest(files: Iterable[FileDigest]) -> str:
    """model-signing's in-toto subject digest of these files (in any order)."""
    hasher = hashlib.sha256()
    for item in sorted(files, key=lambda file: order_key(file.name)):
        hasher.update(bytes.fromhex(check_digest(item.digest)))
    return "sha256:" + hasher.hexdigest()


def digest_directory(
    path: Path, *, cache: DigestCache | None = None, workers: int | None = None
) -> ArtifactDigest:
    """Every file's digest and the artifact's subject digest; unchanged files from ``cache``."""
    walked = walk(path)
    known = cache.lookup(walked) if cache is not None else {}
    fresh = _hash_all([item for item in walked if item.path not in known], workers)
    if cache is not None and fresh:
        cache.store([item for item in walked if item.path in fresh], fresh)
    digests = known | fresh
    files = tuple(FileDigest(item.name, digests[item.path], item.stamp[0]) for item in walked)
    return ArtifactDigest(subject_digest(files), files)


def walk(path: Path) -> list[WalkedFile]:
    """The artifact's regular files in model-signing order; refuses links and special files."""
    root = path.absolute()
    if root.is_symlink():
        raise _symlink(str(root))
    if not root.is_dir():
        raise DigestError(f"{root}: not a directory")
    found: list[WalkedFile] = []
    pending = [("", str(root))]
    try:
        while pending:
            prefix, directory = pending.pop()
            pending += _scan(prefix, directory, found)
    except OSError as exc:
        raise DigestError(f"{exc.filename}: cannot be read ({exc.strerror})") from exc
    if not found:
        raise DigestError(f"{root}: an artifact must contain at least one file")
    return sorted(found, key=lambda item: order_key(item.name))


def _scan(prefix: str, directory: str, found: list[WalkedFile]) -> list[tuple[str, str]]:
    subdirectories = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not prefix and entry.name in IGNORED:
                continue
            if entry.is_symlink():
                raise _symlink(entry.path)
            if entry.is_dir(follow_symlinks=False):
                subdirectories.append((f"{prefix}{entry.name}/", entry.path))
                continue
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise DigestError(f"{entry.path}: only regular files are allowed in an artifact")
            found.append(WalkedFile.of(prefix + entry.name, entry.path, info))
    return subdirectories


def _symlink(path: str) -> DigestError:
    return DigestError(f"{path}: symbolic links are not allowed in an artifact")


def _hash_all(files: Sequence[WalkedFile], workers: int | None) -> dict[str, str]:
    count = min(workers or os.cpu_count() or 1, len(files))
    if count <= 1:
        return {item.path: _hash_one(item) for item in files}
    ordered = sorted(files, key=lambda item: -item.stamp[0])  # largest first: even finish
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="digest") as pool:
        return dict(zip((item.path for item in ordered), pool.map(_hash_one, ordered), strict=True))


def _hash_one(item: WalkedFile) -> str:
    path = Path(item.path)
    try:
        digest = sha256_file(path)
        after = WalkedFile.of(item.name, item.path, path.stat(follow_symlinks=False))
    except OSError as exc:
        raise DigestError(f"{item.path}: cannot be read ({exc.strerror})") from exc
    if after.stamp != item.stamp:
        raise DigestError(f"{item.path}: the file changed while it was being hashed")
    return digest


def cache_dir() -> Path:
    """``$ADAPTERCTL_CACHE_DIR``, else ``$XDG_CACHE_HOME/adapterctl``, else ``~/.cache/...``."""
    explicit = os.environ.get("ADAPTERCTL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "adapterctl"


class DigestCache:
    """File digests by (absolute path, size, mtime_ns, ctime_ns, inode), in SQLite (WAL).

    Safe for concurrent processes. ctime is part of the key because it cannot be set back
    (``touch -d`` can restore an mtime after a same-size edit). A cache that cannot be read
    or written behaves as empty: the files are hashed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> DigestCache:
        return cls(cache_dir() / "digests.sqlite")

    def lookup(self, files: Sequence[WalkedFile]) -> dict[str, str]:
        """Absolute path → digest of the files whose stamp is unchanged (one query)."""
        if not files or not self.path.exists():
            return {}
        low, high = _path_range(files)
        query = "SELECT path, size, mtime_ns, ctime_ns, inode, digest FROM digests"
        try:
            with closing(self._connect()) as db:
                rows = db.execute(f"{query} WHERE path >= ? AND path <= ?", (low, high))
                cached = {(row[0], tuple(row[1:5])): str(row[5]) for row in rows}
        except (sqlite3.Error, OSError, UnicodeError):
            return {}
        hits = ((f.path, cached.get((f.path, f.stamp))) for f in files)
        return {path: digest for path, digest in hits if digest is not None}

    def store(self, files: Iterable[WalkedFile], digests: dict[str, str]) -> None:
        """Remember ``digests`` (absolute path → digest) for these files."""
        rows = [(f.path, *f.stamp, digests[f.path]) for f in files]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute(_SCHEMA)
                db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", rows)
        except (sqlite3.Error, OSError, UnicodeError):
            return

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db


def _path_range(files: Sequence[WalkedFile]) -> tuple[str, str]:
    paths = [f.path for f in files]
    return min(paths), max(paths)
