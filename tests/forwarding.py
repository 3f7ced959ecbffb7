"""A forwarding HTTP proxy on loopback, for the tests that put faults or delays between a
client and a real node (tests/syncnode.py, tests/test_slow_runner.py)."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class Forwarding(BaseHTTPRequestHandler):
    """Forwards GET and POST to ``upstream``; subclasses decide in ``_handle`` what else."""

    upstream: str
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._body()
        self._answer(*self._forward(body))

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(self, body: bytes | None) -> tuple[int, str, bytes]:
        """(status, content type, payload) of the upstream's answer."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        request = urllib.request.Request(
            self.upstream + self.path, data=body, method=self.command, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"] or "application/json", exc.read()

    def _answer(self, status: int, content_type: str, payload: bytes) -> None:
        """The whole answer at once with its length (a streamed one too: framed right)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """Eight clients connecting at once must not overflow the backlog (a dropped SYN is
    retried after a second: a delay for some requests only)."""


@contextlib.contextmanager
def serving(handler: type[Forwarding]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port; yields the proxy's root URL."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
