"""A proxy in front of a real node that passes streamed answers chunk by chunk and holds
each stream after its first chunk until the test releases it: a stream that is certainly
still in flight while the test does something else (reloads the gateway's routes)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Hold:
    upstream: str
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    """Set once a stream has sent its first chunk and waits."""

    async def forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization",
                                                                           "content-type"}}  # fmt: skip
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path, data=body, headers=headers
            ) as reply,  # fmt: skip
        ):
            answer = web.StreamResponse(status=reply.status)
            answer.content_type = reply.content_type
            await answer.prepare(request)
            first = True
            async for chunk in reply.content.iter_any():
                await answer.write(chunk)
                if first and b"data: " in chunk:
                    first = False
                    self.held.set()
                    await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
            await answer.write_eof()
            return answer


@contextlib.contextmanager
def holding(upstream: str) -> Iterator[tuple[str, Hold]]:
    """(root URL of the proxy, its hold) for ``upstream``'s root URL."""
    hold = Hold(upstream)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hold.forward)
    runner = web.AppRunner(app, access_log=None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", hold
    finally:
        hold.release.set()
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
