"""The nodes' guard: stops every node's process group once the demo is gone, however it ended.

The demo starts this script once, in its own session, and keeps the write end of its
standard input: ``start PGID`` and ``stop PGID`` lines tell it which process groups are
nodes. At end of file (the demo exited, or was killed with SIGKILL, where its own cleanup
never runs) it sends SIGTERM to each group still there and SIGKILL after a grace period.

The kernel's parent-death signal reaches a node's first process only. A vLLM node is three
processes (the API server, its engine core, the engine core's worker), and an API server
that gets SIGTERM while it waits for its engine core's handshake can stay in that wait for
good, with its engine core: only a signal to the whole group ends them.
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_S = 10.0


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a group of another user: not ours
        return False
    return True


def _signal(groups: set[int], signum: int) -> set[int]:
    """Send ``signum`` to each group; the groups that were still there."""
    reached = set()
    for group in groups:
        try:
            os.killpg(group, signum)
        except (ProcessLookupError, PermissionError):
            continue
        reached.add(group)
    return reached


def stop(groups: set[int], grace_s: float = GRACE_S) -> None:
    """SIGTERM every group, SIGKILL what is left after ``grace_s``."""
    waiting = _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while waiting and time.monotonic() < deadline:
        time.sleep(0.2)
        waiting = {group for group in waiting if _alive(group)}
    _signal(waiting, signal.SIGKILL)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the demo's Ctrl-C is the demo's to handle
    groups: set[int] = set()
    for line in sys.stdin:
        verb, _, group = line.strip().partition(" ")
        if verb == "start":
            groups.add(int(group))
        elif verb == "stop":
            groups.discard(int(group))
    stop(groups)


if __name__ == "__main__":
    main()
