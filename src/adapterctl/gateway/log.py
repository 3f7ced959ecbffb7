"""The gateway's log lines (stderr, one line per event, flushed)."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(f"adapterctl gateway: {message}", file=sys.stderr, flush=True)
