"""The node's record of its last sync (``<cache>/last-sync.json``), for ``status``.

A record that says something new is written whole through a temporary file and a rename,
not forced to disk first: it is a note of the last sync, which the next sync writes again,
and an fsync for each node of a sync cost more than the rest of its record.
One that differs from the last only in its time (a converged node checked again, every pass
of an agent) is overwritten where it stands: the same number of bytes in one write, where
only the time's digits differ, so a reader (or the disk after a crash) always holds a whole
document; and the node's disk is not made to flush on every pass, as a rename over the old
file does on ext4 (its ``auto_da_alloc`` writes the new file back at once).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from adapterctl.fsutil import TooLarge, read_capped, write_atomic

RECORD_FILE = "last-sync.json"
FORMAT = "adapterctl/sync-record@1"
MAX_RECORD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SyncRecord:
    environment: str
    commit: str
    finished: str
    """UTC time, ISO 8601."""
    ok: bool
    reason: str | None
    message: str | None
    loaded: tuple[str, ...]
    last_success_commit: str | None


def write_record(cache_dir: Path, record: SyncRecord, previous: SyncRecord | None = None) -> None:
    """Write ``record``; ``previous`` is the record read before the sync, if any."""
    document = {"format": FORMAT, **asdict(record)}
    text = json.dumps(document, indent=2) + "\n"
    path = cache_dir / RECORD_FILE
    if not (only_time_differs(previous, record) and _overwrite(path, text.encode())):
        write_atomic(path, text, durable=False)  # the next sync writes it again


def only_time_differs(previous: SyncRecord | None, record: SyncRecord) -> bool:
    """Whether ``record`` says nothing that ``previous`` did not, but the time."""
    return previous is not None and replace(previous, finished=record.finished) == record


def _overwrite(path: Path, data: bytes) -> bool:
    """Overwrite a regular file of exactly ``len(data)`` bytes in place; False otherwise."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        return os.pwrite(fd, data, 0) == len(data)
    except OSError:
        return False
    finally:
        os.close(fd)


def read_record(cache_dir: Path) -> SyncRecord | None:
    """The last record, or None when there is none or it cannot be read."""
    try:
        data = json.loads(read_capped(cache_dir / RECORD_FILE, MAX_RECORD_BYTES))
    except (OSError, TooLarge, ValueError):
        return None
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        return None
    try:
        data["loaded"] = tuple(data.get("loaded", ()))
        return SyncRecord(**data)
    except TypeError:
        return None
