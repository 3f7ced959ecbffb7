"""``adapterctl gc``: remove store artifacts no environment needs (dry-run by default)."""

from __future__ import annotations

from adapterctl.errors import UsageError


def command() -> None:
    """Remove store artifacts that no environment referenced in its last K states."""
    raise UsageError("gc is not built yet")
