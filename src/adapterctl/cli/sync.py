"""``adapterctl sync``, ``agent`` and ``status`` (being built)."""

from __future__ import annotations

from adapterctl.errors import UsageError


def sync_command() -> None:
    """Not built yet."""
    raise UsageError("sync is not built yet")


def agent_command() -> None:
    """Not built yet."""
    raise UsageError("agent is not built yet")


def status_command() -> None:
    """Not built yet."""
    raise UsageError("status is not built yet")
