"""A stub vLLM node for benchmarks: answers like vLLM's OpenAI server after a fixed latency.

Plain asyncio on uvloop (no web framework, whose per-request cost would be counted as the
client's or the proxy's), HTTP/1.1 with keep-alive, on a socket bound by the parent and
passed by descriptor, so connections queue from the start and there is no port race:

- ``GET /v1/models``: the base ``tiny-llama`` and the adapter ``support-bot@1.1.0``;
- ``POST /v1/chat/completions``: after the latency, a chat completion with ``usage``, or
  with ``"stream": true`` a server-sent event stream of a few chunks and ``data: [DONE]``.

Start it with :func:`start`; as a script: ``python bench/stubnode.py FD LATENCY_S``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from typing import Any

import uvloop

BASE = "tiny-llama"
ADAPTER = "support-bot@1.1.0"
WORDS = ("Returns ", "are accepted ", "within ", "30 days.")
MODELS = {
    "object": "list",
    "data": [
        {"id": BASE, "object": "model", "root": "/models/tiny-llama", "parent": None,
         "max_model_len": 512},
        {"id": ADAPTER, "object": "model", "root": "/cache/x", "parent": BASE},
    ],
}  # fmt: skip


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}"
    return head.encode("latin-1") + b"\r\n\r\n" + body


def _json(document: object, status: str = "200 OK") -> bytes:
    return _response(status, json.dumps(document).encode())


def completion(model: str) -> dict[str, Any]:
    """A non-streamed chat completion, as vLLM shapes it."""
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS)},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 16},
    }


def stream_body(model: str) -> bytes:
    """The server-sent events of a streamed completion, one HTTP chunk per event."""
    created = int(time.time())
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": word} for word in WORDS]
    events = []
    for i, delta in enumerate(deltas):
        last = i == len(deltas) - 1
        choice = {"index": 0, "delta": delta, "logprobs": None,
                  "finish_reason": "stop" if last else None}  # fmt: skip
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [choice]}  # fmt: skip
        events.append(f"data: {json.dumps(chunk)}\n\n".encode())
    events.append(b"data: [DONE]\n\n")
    return b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"


def stream_response(model: str) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked"
    return head + b"\r\n\r\n" + stream_body(model)


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    """A request's method, path and headers (names in lower case)."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, path, headers


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The request body: by content-length, or chunked."""
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() != "chunked":
        return b""
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # no trailers are sent by the clients measured
    return b"".join(parts)


async def answer(method: str, path: str, body: bytes, latency_s: float) -> bytes:
    if method == "GET" and path.endswith("/v1/models"):
        return _json(MODELS)
    if method == "GET" and path in ("/health", "/ping"):
        return _response("200 OK", b"")
    if method == "POST" and path.endswith("/v1/chat/completions"):
        request = json.loads(body)
        model = str(request.get("model", BASE))
        if model not in (BASE, ADAPTER):
            error = {"object": "error", "message": f"The model `{model}` does not exist.",
                     "type": "NotFoundError", "param": None, "code": 404}  # fmt: skip
            return _json(error, "404 Not Found")
        await asyncio.sleep(latency_s)
        return stream_response(model) if request.get("stream") else _json(completion(model))
    return _json({"detail": "Not Found"}, "404 Not Found")


async def connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency_s: float
) -> None:
    """Serve one keep-alive connection until the client closes it."""
    try:
        while True:
            method, path, headers = await read_head(reader)
            body = await read_body(reader, headers)
            writer.write(await answer(method, path.split("?", 1)[0], body, latency_s))
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(fd: int, latency_s: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connection(reader, writer, latency_s)

    server = await asyncio.start_server(handle, sock=socket.socket(fileno=fd), backlog=1024)
    await server.serve_forever()


def start(latency_s: float) -> tuple[subprocess.Popen[bytes], int]:
    """Launch the stub on an ephemeral loopback port, leading its own process group:
    (process, port)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted ones inherit it
    port = int(listener.getsockname()[1])
    command = [sys.executable, __file__, str(listener.fileno()), str(latency_s)]
    process = subprocess.Popen(command, pass_fds=(listener.fileno(),), start_new_session=True)
    listener.close()
    return process, port


def main() -> None:
    uvloop.run(serve(int(sys.argv[1]), float(sys.argv[2])))


if __name__ == "__main__":
    main()
