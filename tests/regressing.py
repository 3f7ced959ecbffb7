"""A proxy between a gateway and a real node that makes one revision regress on demand:
every Nth request to it answered 500 in vLLM's shape, or each one delayed (the latency is
the injected fault, not a wait in the test)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.forwarding import Forwarding, serving

ERROR = {"error": {"message": "CUDA error: an illegal memory access was encountered",
                   "type": "InternalServerError", "param": None, "code": 500}}  # fmt: skip


@dataclass
class Regression:
    fail_every: dict[str, int] = field(default_factory=dict)
    """Served name → answer every Nth request to it with HTTP 500."""
    delay_s: dict[str, float] = field(default_factory=dict)
    """Served name → seconds added to each of its requests."""
    seen: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Proxy(Forwarding):
    regression: Regression

    def _handle(self) -> None:
        body = self._body()
        model = _model(body)
        regression = self.regression
        with regression.lock:
            count = regression.seen[model] = regression.seen.get(model, 0) + 1
        every = regression.fail_every.get(model)
        if every and count % every == 0:
            self._answer(500, "application/json", json.dumps(ERROR).encode())
            return
        time.sleep(regression.delay_s.get(model, 0.0))  # the injected latency
        self._answer(*self._forward(body))


def _model(body: bytes | None) -> str:
    try:
        return str(json.loads(body or b"{}").get("model", ""))
    except ValueError:
        return ""


@contextlib.contextmanager
def regressing(upstream: str) -> Iterator[tuple[str, Regression]]:
    """A proxy in front of ``upstream`` (root URL); yields its root URL and the faults."""
    regression = Regression()
    handler = type("Proxy", (_Proxy,), {"upstream": upstream, "regression": regression})
    with serving(handler) as url:
        yield url, regression
