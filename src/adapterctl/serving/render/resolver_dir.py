"""``resolver-dir``: a folder for vLLM's filesystem LoRA resolver.

With ``VLLM_PLUGINS=lora_filesystem_resolver`` and ``VLLM_LORA_RESOLVER_CACHE_DIR=DIR``,
a request for an unknown model name ``N`` makes vLLM look for ``DIR/N/adapter_config.json``
and load ``DIR/N`` if its ``peft_type`` is LORA and its ``base_model_name_or_path`` is the
served base name. The rendered folder holds one entry per served name (``@`` is valid in a
file name): a symlink to the artifact in the node's cache, or a verified copy.
"""

from __future__ import annotations

from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render import _folder
from adapterctl.serving.render.base import RenderOptions, Target, Tree


class ResolverDir:
    """Renders the plan of a resolver folder; :mod:`.tree` writes it."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Tree:
        entries = _folder.entries(state, options)
        extra: dict[str, object] = {"base_model_name": options.served_base(state)}
        return Tree(entries, _folder.marker(state, Target.RESOLVER_DIR, entries, options, extra))
