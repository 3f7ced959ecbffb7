"""The node's record of its last sync (``<cache>/last-sync.json``), for ``status``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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


def write_record(cache_dir: Path, record: SyncRecord) -> None:
    document = {"format": FORMAT, **asdict(record)}
    write_atomic(cache_dir / RECORD_FILE, json.dumps(document, indent=2) + "\n")


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
