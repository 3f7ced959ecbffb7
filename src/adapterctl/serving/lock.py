"""One sync per node at a time: an exclusive ``flock`` on ``<cache>/sync.lock``.

The kernel releases the lock when its holder exits, however it exits, so a killed sync
never leaves a stale lock behind. The file records who holds it, for the message.
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


@contextmanager
def node_lock(cache_dir: Path, node: str, *, wait: bool = False) -> Iterator[None]:
    """Hold the node's sync lock; without ``wait``, refuse at once when it is held."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = (cache_dir / LOCK_FILE).open("a+", encoding="utf-8")
    except OSError as exc:
        message = f"cannot open the lock in {cache_dir}: {exc.strerror}"
        raise NodeCallError(message, "cache") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise NodeCallError(
                f"another sync of node '{node}' is running ({holder}); not started",
                "locked",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
