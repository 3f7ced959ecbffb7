"""``tgi``: Hugging Face TGI launcher arguments that load every revision an environment routes.

TGI loads LoRA adapters once, at startup, from ``--lora-adapters`` (or the environment
variable ``LORA_ADAPTERS``, the same setting): comma-separated entries, ``id`` for a Hub
repository or ``id=path`` for a local folder; a request picks one with
``parameters.adapter_id`` (``/generate``) or ``model`` (``/v1/chat/completions``).

TGI's parser (``parse_lora_adapters``) takes an id of anything but ``=`` and ``@``, and
reads ``@`` as a Hub revision, so the served name ``support-bot@1.1.0`` cannot be an id:
each revision is loaded as ``support-bot:1.1.0`` (``:`` is in neither an adapter name nor a
semantic version, so the mapping is one-to-one). Paths must not hold ``@``, ``=`` or ``,``.
"""

from __future__ import annotations

from adapterctl.errors import UsageError
from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.render.base import RenderOptions, Target, Text, args_text, ordered

SEPARATOR = ":"
"""Between alias and version in a TGI adapter id (TGI reads ``@`` as a Hub revision)."""
_RESERVED = "@=,"
_NOTE = (
    "",
    "TGI adapter id = served name (a request names it in parameters.adapter_id,",
    "or as model on /v1/chat/completions and /v1/completions):",
)


class Tgi:
    """Renders ``text-generation-launcher`` arguments, shell-quoted or as a JSON list."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        ids = tuple(f"  {adapter_id(r)} = {r.served_name}" for r in ordered(state))
        notes = _NOTE + ids if ids else ()
        return args_text(state, Target.TGI, arguments(state, options), options.args_format, notes)


def adapter_id(revision: DesiredRevision) -> str:
    """The id a revision is loaded under on TGI: ``support-bot:1.1.0``."""
    return f"{revision.alias}{SEPARATOR}{revision.version}"


def arguments(state: DesiredState, options: RenderOptions) -> list[str]:
    """``--model-id`` (the base) and one ``id=path`` entry per revision, retained ones too."""
    _check_adapter_dir(options.adapter_dir)
    args = ["--model-id", _model_id(options)]
    entries = [f"{adapter_id(r)}={options.node_path(r)}" for r in ordered(state)]
    return args + (["--lora-adapters", ",".join(entries)] if entries else [])


def _model_id(options: RenderOptions) -> str:
    if not options.base_uri:
        raise UsageError(
            "--target tgi needs the base model for --model-id: pass --base-uri with the "
            "base's folder on the nodes (or its Hugging Face Hub id)"
        )
    return options.base_uri


def _check_adapter_dir(adapter_dir: str) -> None:
    reserved = [c for c in _RESERVED if c in adapter_dir]
    if reserved:
        shown = " or ".join(f"'{c}'" for c in reserved)
        raise UsageError(
            f"--adapter-dir {adapter_dir}: TGI's LORA_ADAPTERS cannot carry a path with {shown} "
            "(it splits entries on ',', an id from its path on '=' and a revision on '@')"
        )
