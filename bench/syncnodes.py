"""Many simulated vLLM nodes in one process, for ``bench/sync.py``.

One uvloop event loop serves every node, each on its own loopback port with its own
state: ``GET /v1/models`` (the base card and the loaded adapters), ``POST
/v1/load_lora_adapter`` answering after the load latency (an ``asyncio.sleep``: the
simulated GPU load holds no thread), ``POST /v1/unload_lora_adapter``. HTTP/1.1 with
keep-alive, or one request per connection when the client asks (``Connection: close``).

A separate process, so the nodes' CPU is never counted as the sync's (one thread per node
in the benchmark's own process measured the simulator as much as the sync), and cheap:
``GET /sim/cpu`` on any port answers the CPU seconds the simulator has used.
Start it with :func:`start`; as a script: ``python bench/syncnodes.py COUNT LATENCY_S BASE``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

import uvloop

from stubnode import read_body, read_head

BASE = "tiny-llama"


@dataclass
class SimNode:
    base_root: str
    latency_s: float
    loaded: dict[str, str] = field(default_factory=dict)

    async def answer(self, method: str, path: str, body: bytes) -> bytes:
        if method == "GET" and path.endswith("/v1/models"):
            cards = [{"id": BASE, "object": "model", "root": self.base_root, "parent": None}]
            cards += [{"id": k, "object": "model", "root": v, "parent": BASE}
                      for k, v in self.loaded.items()]  # fmt: skip
            return _response("200 OK", json.dumps({"object": "list", "data": cards}).encode())
        if method == "GET" and path == "/sim/cpu":
            return _response("200 OK", str(time.process_time()).encode(), "text/plain")
        if method == "POST" and path.endswith("/v1/load_lora_adapter"):
            request = json.loads(body)
            await asyncio.sleep(self.latency_s)
            self.loaded[request["lora_name"]] = request["lora_path"]
            return _response("200 OK", b"Success", "text/plain")
        if method == "POST" and path.endswith("/v1/unload_lora_adapter"):
            self.loaded.pop(json.loads(body)["lora_name"], None)
            return _response("200 OK", b"Success", "text/plain")
        return _response("404 Not Found", b'{"detail": "Not Found"}')


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}"
    return head.encode("latin-1") + b"\r\n\r\n" + body


async def connection(
    node: SimNode, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Serve one connection until the client closes it or asks to."""
    try:
        while True:
            method, path, headers = await read_head(reader)
            body = await read_body(reader, headers)
            close = headers.get("connection", "").lower() == "close"
            answer = await node.answer(method, path.split("?", 1)[0], body)
            writer.write(answer.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)
                         if close else answer)  # fmt: skip
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(count: int, latency_s: float, base_root: str) -> None:
    ports = []
    for _ in range(count):
        handle = functools.partial(connection, SimNode(base_root, latency_s))
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        ports.append(server.sockets[0].getsockname()[1])
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def start(count: int, latency_s: float, base_root: str) -> tuple[subprocess.Popen[str], list[int]]:
    """Launch ``count`` nodes in one child process: (process, each node's port)."""
    command = [sys.executable, __file__, str(count), str(latency_s), base_root]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def cpu_seconds(port: int) -> float:
    """The CPU time the simulator process has used so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/sim/cpu", timeout=10) as answer:
        return float(answer.read())


def main() -> None:
    uvloop.run(serve(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))


if __name__ == "__main__":
    main()
