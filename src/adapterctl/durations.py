"""Durations as the schemas write them (``24h``, ``1d12h``, ``90m``, ``30s``)."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """``24h``, ``1d12h``, ``90m`` (the environment schema's Duration)."""
    return timedelta(**{_UNITS[unit]: int(n) for n, unit in _PART.findall(text)})


def format_duration(delta: timedelta) -> str:
    """``2d 3h 5m`` (rounded down to the minute; ``0m`` under a minute)."""
    minutes = max(int(delta.total_seconds()) // 60, 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m"]
    if days or hours:
        parts[2] = f"{minutes}m" if minutes else ""
    return " ".join(part for part in parts if part)
