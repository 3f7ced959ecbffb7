"""What every command that talks to a serving node checks first: that it answers and serves
the models the run needs; and how a failed connection is described."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from adapterctl.errors import InputError

if TYPE_CHECKING:
    import openai
    from openai import AsyncOpenAI

NO_KEY = "EMPTY"
"""Sent when the node needs no key (vLLM's convention); never the user's ``OPENAI_API_KEY``."""
ENDPOINT_HINT = "is it running? --endpoint takes the base URL, e.g. http://host:8000/v1"


class NodeError(InputError):
    """The run cannot start: the node is unreachable or does not serve a model."""


async def check_node(
    client: AsyncOpenAI,
    url: str,
    models: Sequence[str],
    *,
    error: type[NodeError] = NodeError,
    missing_hint: str = "load the revision on the node first (POST /v1/load_lora_adapter)",
) -> None:
    """Raise ``error`` unless the node answers ``/v1/models`` and lists every one of ``models``."""
    import openai  # noqa: PLC0415 (this module is imported by commands that never call it)

    try:
        served = {model.id async for model in client.models.list()}
    except openai.APIConnectionError as exc:
        raise error(f"cannot reach the node at {url}: {cause(exc)}", hint=ENDPOINT_HINT) from None
    except openai.APIStatusError as exc:
        key = exc.status_code in (401, 403)
        raise error(
            f"the node at {url} refused to list its models: {exc.message}",
            hint="check --api-key (or ADAPTERCTL_API_KEY)" if key else None,
        ) from None
    except openai.APIError as exc:
        raise error(f"the node at {url} does not answer like an OpenAI server: {exc}") from None
    missing = [model for model in models if model not in served]
    if missing:
        serves = ", ".join(sorted(served)) or "no models"
        raise error(
            f"the node at {url} does not serve {', '.join(missing)} (it serves: {serves})",
            hint=missing_hint,
        )


def cause(exc: openai.APIConnectionError) -> str:
    """The underlying reason of a connection error, without the client's generic wording: the
    operating system's words where the transport kept them ("connection refused")."""
    reason: BaseException | None = exc.__cause__
    while reason is not None:
        if isinstance(reason, OSError) and reason.errno is not None:
            return os.strerror(reason.errno).lower()
        reason = getattr(reason, "os_error", None) or reason.__cause__
    return (str(exc.__cause__ or "") or exc.message).rstrip(".")
