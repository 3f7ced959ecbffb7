"""Render targets: the same desired state, for engines and gateways that already exist.

One module per target behind one Protocol (:class:`~.base.Renderer`), like the store
backends: ``vllm-args``, ``resolver-dir``, ``aibrix``, ``kserve``, ``litellm``, ``tgi`` and
``nim``. Each renders an environment as committed (a :class:`DesiredState`),
deterministically, so that Argo CD or Flux apply it and a GitOps diff shows only what
changed.
"""

from __future__ import annotations

from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render.aibrix import AIBrix
from adapterctl.serving.render.base import (
    DEFAULT_ADAPTER_DIR,
    DEFAULT_API_BASE,
    DEFAULT_REFRESH_INTERVAL,
    ArgsFormat,
    ArtifactBase,
    Rendered,
    Renderer,
    RenderOptions,
    Target,
    Text,
    Tree,
    artifact_base,
)
from adapterctl.serving.render.kserve import KServe
from adapterctl.serving.render.litellm import LiteLLM
from adapterctl.serving.render.nim import Nim
from adapterctl.serving.render.resolver_dir import ResolverDir
from adapterctl.serving.render.tgi import Tgi
from adapterctl.serving.render.tree import write_tree
from adapterctl.serving.render.vllm_args import VllmArgs

RENDERERS: dict[Target, Renderer] = {
    Target.VLLM_ARGS: VllmArgs(),
    Target.RESOLVER_DIR: ResolverDir(),
    Target.AIBRIX: AIBrix(),
    Target.KSERVE: KServe(),
    Target.LITELLM: LiteLLM(),
    Target.TGI: Tgi(),
    Target.NIM: Nim(),
}


def render(state: DesiredState, target: Target, options: RenderOptions) -> Rendered:
    """``state`` rendered for ``target``."""
    return RENDERERS[target].render(state, options)


__all__ = [
    "DEFAULT_ADAPTER_DIR",
    "DEFAULT_API_BASE",
    "DEFAULT_REFRESH_INTERVAL",
    "RENDERERS",
    "ArgsFormat",
    "ArtifactBase",
    "RenderOptions",
    "Rendered",
    "Renderer",
    "Target",
    "Text",
    "Tree",
    "artifact_base",
    "render",
    "write_tree",
]
