"""``adapterctl render`` (being built)."""

from __future__ import annotations

from adapterctl.errors import UsageError


def command() -> None:
    """Not built yet."""
    raise UsageError("render is not built yet")
