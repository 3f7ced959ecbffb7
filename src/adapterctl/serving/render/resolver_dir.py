"""``resolver-dir``: a folder for vLLM's filesystem LoRA resolver.

With ``VLLM_PLUGINS=lora_filesystem_resolver`` and ``VLLM_LORA_RESOLVER_CACHE_DIR=DIR``,
a request for an unknown model name ``N`` makes vLLM look for ``DIR/N/adapter_config.json``
and load ``DIR/N`` if its ``peft_type`` is LORA and its ``base_model_name_or_path`` is the
served base name. The rendered folder holds one entry per served name (``@`` is valid in a
file name): a symlink to the artifact in the node's cache, or a verified copy.
"""

from __future__ import annotations

import json

from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render.base import (
    GENERATED,
    RenderOptions,
    Target,
    Tree,
    TreeEntry,
    ordered,
)

MARKER = ".adapterctl-render.json"
"""The file that marks a folder as rendered (so a re-render may replace it)."""


class ResolverDir:
    """Renders the plan of a resolver folder; :mod:`.tree` writes it."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Tree:
        entries = tuple(TreeEntry(r.served_name, options.node_path(r), r) for r in ordered(state))
        return Tree(entries, _marker(state, entries, options))


def _marker(state: DesiredState, entries: tuple[TreeEntry, ...], options: RenderOptions) -> str:
    document = {
        "generated": GENERATED,
        "environment": state.env,
        "commit": state.commit,
        "target": Target.RESOLVER_DIR.value,
        "mode": "copy" if options.copy else "symlink",
        "base_model_name": options.served_base(state),
        "entries": {
            entry.name: {"digest": entry.revision.digest, "weight": entry.revision.weight}
            | ({} if options.copy else {"link": entry.link})
            for entry in entries
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
