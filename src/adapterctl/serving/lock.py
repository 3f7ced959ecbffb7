"""One sync per node at a time: an exclusive ``flock`` on ``<cache>/sync.lock``.

The kernel releases the lock when its holder exits, however it exits, so a killed sync
never leaves a stale lock behind. The file says who holds it, for the message: written in
place at a fixed width when the lock is taken (no truncation: the file's size never
changes, so taking the lock costs the disk nothing but a page of text), and left as it is
when it is let go — it is read only while someone holds the lock, who wrote it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from adapterctl.serving.vllm import NodeCallError

LOCK_FILE = "sync.lock"
HOLDER_WIDTH = 63
"""The holder's line, padded with spaces: ``pid N since TIME`` fits with room to spare."""


@contextmanager
def node_lock(cache_dir: Path, node: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the node's sync lock; without ``wait``, refuse at once when it is held."""
    fd = _open(cache_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, HOLDER_WIDTH + 1, 0).decode(errors="replace").strip()
            raise NodeCallError(
                f"another sync of node '{node}' is running ({holder or 'another process'}); "
                "not started",
                "locked",
            ) from None
        holder = f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        os.pwrite(fd, f"{holder:<{HOLDER_WIDTH}}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # lets the lock go


def _open(cache_dir: Path) -> int:
    path = cache_dir / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
    try:
        try:
            return os.open(path, flags, 0o644)
        except FileNotFoundError:  # a new node: its cache is made with its first sync
            cache_dir.mkdir(parents=True, exist_ok=True)
            return os.open(path, flags, 0o644)
    except OSError as exc:
        message = f"cannot open the lock in {cache_dir}: {exc.strerror}"
        raise NodeCallError(message, "cache") from None
