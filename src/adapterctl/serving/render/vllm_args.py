"""``vllm-args``: the vLLM server arguments that preload every revision an environment routes.

``--lora-modules`` takes one JSON object per adapter, ``{"name", "path",
"base_model_name"}`` (vLLM's ``LoRAModulePath``); each is loaded at startup under its
immutable served name from the node's adapter cache, retained (weight 0) revisions too.
"""

from __future__ import annotations

import json

from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.render.base import RenderOptions, Target, Text, args_text, ordered


class VllmArgs:
    """Renders ``vllm serve`` arguments, shell-quoted or as a JSON list."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        return args_text(state, Target.VLLM_ARGS, arguments(state, options), options.args_format)


def arguments(state: DesiredState, options: RenderOptions) -> list[str]:
    """The arguments in the order ``vllm serve --help`` lists them."""
    serving = state.environment.serving
    args = ["--enable-lora", "--max-lora-rank", str(serving.max_lora_rank)]
    args += ["--max-loras", str(serving.max_loras)]
    if serving.max_cpu_loras is not None:
        args += ["--max-cpu-loras", str(serving.max_cpu_loras)]
    args += ["--served-model-name", options.served_base(state)]
    modules = [_module(revision, state, options) for revision in ordered(state)]
    return args + (["--lora-modules", *modules] if modules else [])


def _module(revision: DesiredRevision, state: DesiredState, options: RenderOptions) -> str:
    module = {
        "name": revision.served_name,
        "path": options.node_path(revision),
        "base_model_name": options.served_base(state),
    }
    return json.dumps(module, ensure_ascii=False)
