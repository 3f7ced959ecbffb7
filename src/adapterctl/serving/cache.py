"""The node's adapter cache: artifacts fetched from the store, verified, then renamed into
``<cache>/sha256/<hex>`` — so a path the server loads from is always complete and checked.

An artifact is first fetched into ``<cache>/.staging/sha256/<hex>`` (the store writes it
whole or not at all); every file's digest is compared with the manifest merged at the
synced commit (the exact set of files, too), and, where the node holds trust anchors, the
signature bundle merged with it is verified by model-signing. Only then is it renamed into
place. Anything else is removed. One node fetches one artifact at a time (its sync holds
the node's lock and loads one revision after another), so ``.staging`` needs no folder of
its own per fetch: on this kind of disk each folder made and removed costs as much as
hashing a small adapter.

A sync of several nodes fetches each artifact from the store once (:class:`Sources`): into
a folder of its own under the system's temporary folder (``TMPDIR``), private to the sync's
process, where its digests and signature are checked once; each node's copy is then made
from that checked copy, file by file into new files, and renamed into the node's cache.
It is not hashed again on its way in: its bytes are the ones just checked, read from a
folder only the sync can write, and it is hashed before every later load like any cached
copy. The folder is removed when the sync ends. Where it cannot be written (a small or full
``TMPDIR``), each node fetches on its own instead, as a sync of one node does.

The cache is a disk anyone with access to the node can change, so a cached copy is hashed
again against the manifest every time it is about to be loaded (DESIGN §4.3). A copy that
no longer matches is refused like a tampered store object: it is moved aside to
``<cache>/quarantine/`` (evidence for whoever investigates, and the next sync fetches a
verified copy) and nothing is loaded from it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapterctl.findings import Location
from adapterctl.serving.desired import DesiredRevision
from adapterctl.serving.plan import adapter_path
from adapterctl.serving.vllm import NodeCallError
from adapterctl.signing.signers import Policy
from adapterctl.signing.verify import Target, Verifier
from adapterctl.store.base import Store, StoreError
from adapterctl.store.digests import sha256_file
from adapterctl.store.filestore import FileStore

STAGING = ".staging"
"""``<cache>/.staging/``: where an artifact is fetched and checked before it is renamed in."""


class Verified:
    """Signature verdicts with one policy in one sync, keyed by (served name, digest).

    The bundle is the one merged at the synced commit, the same bytes for every node, and a
    node's copy is checked file by file against the manifest's digests before its
    signature, which covers exactly those digests: the verdict for one key holds for every
    node's identical copy. The first node to need it computes it; the others wait for it
    rather than verify the same bundle again at the same time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], threading.Lock] = {}
        self._verdicts: dict[tuple[str, str], str | None] = {}

    def verdict(self, key: tuple[str, str], check: Callable[[], str | None]) -> str | None:
        """The memoized result of ``check`` (None: verified, else why it was rejected)."""
        with self._lock:
            key_lock = self._keys.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._verdicts:
                self._verdicts[key] = check()
            return self._verdicts[key]


@dataclass(frozen=True)
class Verification:
    """How fetched artifacts are checked: digests always, signatures with a policy."""

    policy: Policy | None
    bundles: dict[str, bytes]
    """Served name → the signature bundle merged with the manifest."""
    verified: Verified = field(default_factory=Verified)
    """Signatures already verified with this policy in this sync (shared across nodes)."""


class Sources:
    """One checked copy of each artifact for every node of a sync (see the module's notes).

    Keyed by (store, digest): nodes may name stores of their own. The first node to need
    one fetches and checks it; the others wait for it rather than fetch it again. A fetch
    that fails is not remembered, so the next node tries again, as it would on its own.
    Where the temporary folder cannot be written (full, or not there), the sync stops using
    it and each node fetches on its own, as before: slower, never a failed sync.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[threading.Lock, Path]] = {}
        """(store, digest) → the lock its one fetch is made under, and the folder it goes to."""
        self._folder: Path | None = None
        """Made by the first fetch, so a sync that fetches nothing makes nothing."""
        self._unusable = False
        """The folder could not be made or written: every node fetches on its own."""

    def checked(self, revision: DesiredRevision, store: Store, check: Verification) -> Path | None:
        """The folder ``<root>/sha256/<hex>`` holding the artifact, digests and signature
        checked (the signature with ``check``'s policy, remembered per policy); None when
        the temporary folder cannot hold it (the node then fetches on its own)."""
        key = (store.uri, revision.digest)
        with self._lock:
            folder = None if self._unusable else self._temporary_folder()
            if folder is None:
                return None
            if key not in self._entries:
                self._entries[key] = (threading.Lock(), folder / str(len(self._entries)))
            key_lock, root = self._entries[key]
        with key_lock:
            if self._unusable:
                return None
            if not root.is_dir():
                try:
                    _fetch_checked(revision, store, root)
                except OSError:
                    self._unusable = True
                    return None
        if check.policy is not None:
            _check_signature(revision, root, check)
        return adapter_path(root, revision.digest)

    def _temporary_folder(self) -> Path | None:
        """The sync's folder, made at the first fetch; None where it cannot be made."""
        if self._folder is None:
            try:
                self._folder = Path(tempfile.mkdtemp(prefix="adapterctl-sync-"))
            except OSError:
                self._unusable = True
        return self._folder

    def close(self) -> None:
        """Remove every copy (the end of the sync)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def _fetch_checked(revision: DesiredRevision, store: Store, root: Path) -> None:
    """Fetch into ``<root>/sha256/<hex>`` and check the digests; ``root`` exists only if
    that succeeded."""
    staging = root.with_name(f"{root.name}.part")
    folder = adapter_path(staging, revision.digest)
    try:
        folder.parent.mkdir(parents=True)
        _fetch(revision, store, folder)
        _check_files(revision, folder)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure_cached(
    revision: DesiredRevision,
    store: Store,
    cache_dir: Path,
    check: Verification,
    sources: Sources | None = None,
) -> Path:
    """The verified local copy of ``revision``'s artifact, fetched if needed (from the
    sync's checked copy where ``sources`` is given, else from the store)."""
    target = adapter_path(cache_dir, revision.digest)
    if target.is_dir():
        _check_cached(revision, target, cache_dir)
        return target
    staging = cache_dir / STAGING
    fetched = adapter_path(staging, revision.digest)
    try:
        _clear(staging)  # what a sync killed mid-fetch left
        source = None if sources is None else sources.checked(revision, store, check)
        if source is None:
            fetched.parent.mkdir(parents=True, exist_ok=True)
            _fetch(revision, store, fetched)
            _check_files(revision, fetched)
            if check.policy is not None:
                _check_signature(revision, staging, check)
        else:
            _copy(source, fetched)
        target.parent.mkdir(parents=True, exist_ok=True)
        fetched.rename(target)
    except OSError as exc:
        _clear(staging)
        raise _os_error(exc, revision) from None
    except BaseException:
        _clear(staging)
        raise
    return target


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 1024 * 1024


def _copy(source: Path, folder: Path) -> None:
    """Copy the flat folder ``source`` into the new folder ``folder``, each file into a new
    file (never through a link someone placed there)."""
    folder.mkdir(parents=True)
    with os.scandir(source) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        with (
            (source / name).open("rb") as reader,
            open(  # noqa: PTH123 (a descriptor)
                os.open(folder / name, _NEW_FILE, 0o644), "wb"
            ) as writer,
        ):
            shutil.copyfileobj(reader, writer, _CHUNK)


def _clear(staging: Path) -> None:
    """Remove everything in ``<cache>/.staging/`` but its ``sha256`` folder."""
    with contextlib.suppress(FileNotFoundError), os.scandir(staging) as entries:
        for entry in entries:
            if entry.name != "sha256":
                _remove(entry)
    with contextlib.suppress(FileNotFoundError), os.scandir(staging / "sha256") as entries:
        for entry in entries:
            _remove(entry)


def _remove(entry: os.DirEntry[str]) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path, ignore_errors=True)
    else:
        Path(entry.path).unlink(missing_ok=True)


def _fetch(revision: DesiredRevision, store: Store, folder: Path) -> None:
    try:
        store.fetch(revision.digest, folder)
    except StoreError as exc:
        raise NodeCallError(f"{revision.served_name}: {exc.message}", "store") from None


def _check_cached(revision: DesiredRevision, target: Path, cache_dir: Path) -> None:
    """Hash the cached copy again; a mismatch is quarantined and refused."""
    try:
        _check_files(revision, target, "the node's cache")
    except NodeCallError as exc:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = cache_dir / "quarantine" / f"{target.name}-{stamp}"
        try:
            aside.parent.mkdir(parents=True, exist_ok=True)
            target.rename(aside)
        except OSError as os_exc:
            raise _os_error(os_exc, revision) from None
        raise NodeCallError(
            f"{exc.message}; the copy was moved to {aside} and the next sync fetches a "
            "verified one",
            exc.reason,
        ) from None


def _check_files(revision: DesiredRevision, folder: Path, where: str = "the store") -> None:
    expected = revision.manifest.artifact.files
    _check_regular(revision, folder, where)
    present = sorted(path.name for path in folder.iterdir())
    if present != sorted(expected):
        raise NodeCallError(
            f"{revision.served_name}: {where} holds {', '.join(present)}, but the manifest "
            f"lists {', '.join(sorted(expected))}; not loaded",
            "tampered-artifact",
        )
    for name, declared in sorted(expected.items()):
        actual = sha256_file(folder / name)
        if actual != declared.digest:
            raise NodeCallError(
                f"{revision.served_name}: {name} in {where} does not match the manifest "
                f"(sha256 {actual.removeprefix('sha256:')[:12]}…, manifest "
                f"{declared.digest.removeprefix('sha256:')[:12]}…); not loaded",
                "tampered-artifact",
            )


def _check_regular(revision: DesiredRevision, folder: Path, where: str) -> None:
    """A copy to load is a real folder of regular files: a symbolic link would be hashed
    where it points now, and read by the server wherever it points later."""
    entries = [folder, *sorted(folder.iterdir())]
    for entry in entries:
        info = entry.lstat()
        wanted = stat.S_ISDIR if entry == folder else stat.S_ISREG
        if not wanted(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            shown = f"the folder {folder}" if entry == folder else entry.name
            raise NodeCallError(
                f"{revision.served_name}: {shown} in {where} is {kind}; not loaded",
                "tampered-artifact",
            )


def _check_signature(revision: DesiredRevision, staging: Path, check: Verification) -> None:
    name = revision.served_name
    problem = check.verified.verdict(
        (name, revision.digest), lambda: _signature_problem(revision, staging, check)
    )
    if problem is not None:
        raise NodeCallError(f"{name}: {problem}", "bad-signature")


def _signature_problem(revision: DesiredRevision, staging: Path, check: Verification) -> str | None:
    assert check.policy is not None
    name = revision.served_name
    bundle = check.bundles.get(name)
    if bundle is None:
        return "no signature bundle was merged with it"
    # A file of its own per check: with a sync's shared copy, nodes with other trust files
    # check the same folder at the same time.
    fd, bundle_name = tempfile.mkstemp(prefix="bundle-", suffix=".sigstore.json", dir=staging)
    bundle_file = Path(bundle_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(bundle)
        listed = {file: item.digest for file, item in revision.manifest.artifact.files.items()}
        target = Target(
            name, bundle_file, f"{name} bundle", revision.digest, Location(name), listed
        )
        local = FileStore(staging, f"file://{staging}")
        findings = Verifier(check.policy, local, None, datetime.now(UTC)).verify(target)
    finally:
        bundle_file.unlink(missing_ok=True)
    return f"signature rejected: {findings[0].message}" if findings else None


def _os_error(exc: OSError, revision: DesiredRevision) -> NodeCallError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NodeCallError(
            f"{revision.served_name}: the adapter cache is full ({exc.strerror}); not loaded",
            "disk-full",
        )
    return NodeCallError(f"{revision.served_name}: cache: {exc}", "cache")
