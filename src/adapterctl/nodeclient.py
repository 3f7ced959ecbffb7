"""What every command that talks to a serving node checks first: that it answers and serves
the models the run needs; and how a failed connection is described.

The wording lives here once, whatever client asked: :func:`check_node` for the openai SDK's
client (the pressure replay), and the pieces it is built from (:func:`unreachable`,
:func:`refused`, :func:`not_openai`, :func:`require_served`, :func:`reason`) for the golden
runner's own aiohttp client (``evals/client.py``).
"""

from __future__ import annotations

import functools
import os
import urllib.parse
import urllib.request
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from adapterctl.errors import InputError

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI

NO_KEY = "EMPTY"
"""Sent when the node needs no key (vLLM's convention); never the user's ``OPENAI_API_KEY``."""
ENDPOINT_HINT = "is it running? --endpoint takes the base URL, e.g. http://host:8000/v1"
KEY_HINT = "check --api-key (or ADAPTERCTL_API_KEY)"
LOAD_HINT = "load the revision on the node first (POST /v1/load_lora_adapter)"
PROXY_VARIABLES = tuple(
    case(f"{kind}_proxy")
    for kind in ("http", "https", "all", "no")
    for case in (str.lower, str.upper)
)
"""What decides which proxy reaches a node (urllib reads both cases)."""


class NodeError(InputError):
    """The run cannot start: the node is unreachable or does not serve a model."""


def unreachable(url: str, why: str, *, error: type[NodeError] = NodeError) -> NodeError:
    """The node did not answer at all; ``why`` as :func:`reason` gives it."""
    return error(f"cannot reach the node at {url}: {why}", hint=ENDPOINT_HINT)


def refused(url: str, status: int, said: str, *, error: type[NodeError] = NodeError) -> NodeError:
    """The node answered ``/v1/models`` with an error status; ``said`` is the client's
    ``Error code: N - message``."""
    key = status in (401, 403)
    return error(
        f"the node at {url} refused to list its models: {said}",
        hint=KEY_HINT if key else None,
    )


def not_openai(url: str, detail: str, *, error: type[NodeError] = NodeError) -> NodeError:
    """The node answered ``/v1/models``, but not with a model list."""
    return error(f"the node at {url} does not answer like an OpenAI server: {detail}")


def require_served(
    url: str,
    served: Collection[str],
    models: Sequence[str],
    *,
    error: type[NodeError] = NodeError,
    missing_hint: str = LOAD_HINT,
) -> None:
    """Raise ``error`` unless ``served`` (what the node listed) holds every one of ``models``."""
    missing = [model for model in models if model not in served]
    if missing:
        serves = ", ".join(sorted(served)) or "no models"
        raise error(
            f"the node at {url} does not serve {', '.join(missing)} (it serves: {serves})",
            hint=missing_hint,
        )


async def check_node(
    client: AsyncOpenAI,
    url: str,
    models: Sequence[str],
    *,
    error: type[NodeError] = NodeError,
    missing_hint: str = LOAD_HINT,
) -> None:
    """Raise ``error`` unless the node answers ``/v1/models`` and lists every one of ``models``."""
    import openai  # noqa: PLC0415 (this module is imported by commands that never call it)

    try:
        served = {model.id async for model in client.models.list()}
    except openai.APIConnectionError as exc:
        raise unreachable(url, cause(exc), error=error) from None
    except openai.APIStatusError as exc:
        raise refused(url, exc.status_code, exc.message, error=error) from None
    except openai.APIError as exc:
        raise not_openai(url, str(exc), error=error) from None
    require_served(url, served, models, error=error, missing_hint=missing_hint)


def cause(exc: openai.APIConnectionError) -> str:
    """The underlying reason of a connection error, without the client's generic wording: the
    operating system's words where the transport kept them ("connection refused")."""
    return reason(exc.__cause__, exc.message)


def reason(failure: BaseException | None, fallback: str) -> str:
    """Why a connection failed: the operating system's words for the first error number in
    ``failure``'s chain (an :class:`OSError`, or a transport error keeping one as
    ``os_error``, as aiohttp's do), else ``failure``'s own words, else ``fallback``; without a
    final full stop."""
    found = failure
    while found is not None:
        if isinstance(found, OSError) and found.errno is not None:
            return os.strerror(found.errno).lower()
        found = getattr(found, "os_error", None) or found.__cause__
    return (str(failure or "") or fallback).rstrip(".")


def env_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, less ``NO_PROXY``), as the openai SDK and urllib honour it; looked up once
    per node and run by the aiohttp clients (the golden runner's, the sync's), whose own
    ``trust_env`` would look it up, and read ``~/.netrc``, in a thread for every request.
    Remembered per host while those variables stay as they are (a sync of a thousand nodes
    asks for each of them)."""
    parts = urllib.parse.urlsplit(url)
    settings = tuple(os.environ.get(name) for name in PROXY_VARIABLES)
    return _proxy_for(parts.scheme, parts.hostname, settings)


@functools.lru_cache(maxsize=4096)
def _proxy_for(scheme: str, host: str | None, settings: tuple[str | None, ...]) -> str | None:
    del settings  # part of the cache key only
    if host is None or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(scheme) or proxies.get("all")
