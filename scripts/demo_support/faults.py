"""The demo's fault injector: a forwarding proxy between prod's gateway and prod's node that
makes one revision fail on demand, the way a bad kernel or driver for one adapter would.

Run as its own process (``python faults.py --port P --upstream URL``), stopped like a node.
Every request is forwarded to the node, except that while a fault is set, every Nth request
naming the faulty revision is answered 500 in vLLM's error shape. ``POST /faults`` with
``{"model": "sql-helper@1.1.0", "fail_every": 3}`` sets the fault (``fail_every`` 0 clears
it); the transcript shows that request. Answers are forwarded whole (a stream arrives all at
once), which costs both revisions alike.
"""

from __future__ import annotations

import argparse
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}
ERROR = {"error": {"message": "CUDA error: an illegal memory access was encountered",
                   "type": "InternalServerError", "param": None, "code": 500}}  # fmt: skip


class Faults:
    def __init__(self) -> None:
        self.model = ""
        self.every = 0
        self.seen = 0
        self.lock = threading.Lock()

    def set(self, model: str, every: int) -> None:
        with self.lock:
            self.model, self.every, self.seen = model, every, 0

    def fails(self, model: str) -> bool:
        with self.lock:
            if not self.every or model != self.model:
                return False
            self.seen += 1
            return self.seen % self.every == 0


class Proxy(BaseHTTPRequestHandler):
    upstream = ""
    faults = Faults()
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._answer(*self._forward(None))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/faults":
            request = json.loads(body or b"{}")
            self.faults.set(str(request.get("model", "")), int(request.get("fail_every", 0)))
            self._answer(200, "application/json", json.dumps(request).encode())
        elif self.faults.fails(_model(body)):
            self._answer(500, "application/json", json.dumps(ERROR).encode())
        else:
            self._answer(*self._forward(body))

    def _forward(self, body: bytes | None) -> tuple[int, str, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        request = urllib.request.Request(
            self.upstream + self.path, data=body, method=self.command, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                return answer.status, answer.headers["Content-Type"], answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["Content-Type"] or "application/json", exc.read()
        except OSError as exc:
            return 502, "application/json", json.dumps({"error": str(exc)}).encode()

    def _answer(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _model(body: bytes) -> str:
    try:
        return str(json.loads(body or b"{}").get("model", ""))
    except ValueError:
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the node's root URL")
    options = parser.parse_args()
    Proxy.upstream = options.upstream.rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Proxy)
    server.daemon_threads = True
    server.request_queue_size = 128
    server.serve_forever()


if __name__ == "__main__":
    main()
