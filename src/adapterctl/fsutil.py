"""Small filesystem helpers shared by every writer: nothing is ever half-written."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from adapterctl.errors import InputError


def write_atomic(path: Path, text: str, *, exclusive: bool = False, durable: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder.

    With ``exclusive`` the final step refuses to replace an existing file (a hard link
    fails if the name exists), so two writers of the same new file cannot both win. Without
    ``durable`` the new file is not forced to disk before the rename: for notes that the
    next run writes again anyway (ext4 still writes a file back when it is renamed over
    another), where an fsync per write is most of the cost.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class TooLarge(Exception):
    """A file is larger than its reader accepts."""


def read_capped(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, reading at most ``limit`` + 1: :class:`TooLarge` beyond ``limit``.

    For files an attacker may supply (bundles, keys, recorded JSON): never read a huge
    file whole. ``OSError`` passes through for the caller to word.
    """
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(path)
    return data


def read_json_object(path: Path, error: type[InputError]) -> dict[str, Any] | None:
    """The JSON object in ``path`` (None when there is no such file); ``error`` otherwise."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{path}: expected a JSON object")
    return value


def canonical_json_digest(value: object) -> str:
    """``sha256:<hex>`` of ``value`` as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
