"""Unload after traffic left: a sync asks each gateway in front of the node (its
``/adapterctl/routes``) whether it routes by the synced commit and has requests in flight to
what is about to be unloaded, and waits until neither holds (DESIGN §4 step 4)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adapterctl.serving.vllm import NodeCallError

POLL_S = 0.2
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Drain:
    gateways: Sequence[str]
    commit: str
    node: str
    wait_s: float
    sleep: Callable[[float], None] = time.sleep

    def wait(self, names: Sequence[str]) -> None:
        """Return once every gateway lets ``names`` go from this node; raise otherwise."""
        deadline = time.monotonic() + self.wait_s
        while True:
            problem = self._problem(names)
            if problem is None:
                return
            if time.monotonic() >= deadline:
                raise NodeCallError(
                    f"{problem} after {self.wait_s:g} s; nothing unloaded (the next sync "
                    "unloads once traffic has left)",
                    "gateway-not-drained",
                )
            self.sleep(POLL_S)

    def _problem(self, names: Sequence[str]) -> str | None:
        for gateway in self.gateways:
            document = _routes(gateway)
            if document is None:
                return f"gateway {gateway} does not answer"
            commit = document.get("commit")
            if commit != self.commit:
                shown = str(commit)[:12] if commit else "no commit"
                return f"gateway {gateway} routes by {shown}, not {self.commit[:12]}"
            flights = document.get("in_flight")
            busy = flights if isinstance(flights, dict) else {}
            for name in names:
                count = (busy.get(name) or {}).get(self.node, 0)
                if count:
                    return (f"gateway {gateway} has {count} request{'s' if count != 1 else ''} "
                            f"in flight to {name} on {self.node}")  # fmt: skip
        return None


def _routes(gateway: str) -> dict[str, object] | None:
    url = gateway.rstrip("/") + "/adapterctl/routes"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
            document = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
