"""``litellm``: a LiteLLM proxy ``config.yaml`` whose deployment weights carry the canary split.

Each alias is a model group: one deployment per routed revision, ``weight`` = its share,
picked by the ``simple-shuffle`` strategy (a weighted random pick). Retained revisions
(weight 0) stay out of the alias's group; every revision is also its own group under its
immutable served name, so a client can pin one (golden evals, incident triage).
"""

from __future__ import annotations

from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.render.base import (
    RenderOptions,
    Target,
    Text,
    comment,
    header,
    ordered,
    yaml_documents,
)

PROVIDER = "hosted_vllm"


class LiteLLM:
    """Renders a LiteLLM router configuration."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        revisions = ordered(state)
        routed = [r for r in revisions if r.weight > 0]
        models = [_deployment(r.alias, r, options, weight=True) for r in routed]
        models += [_deployment(r.served_name, r, options, weight=False) for r in revisions]
        config: dict[str, object] = {
            "model_list": models,
            "router_settings": {"routing_strategy": "simple-shuffle"},
        }
        lines = header(state, Target.LITELLM) + _retained_notes(revisions)
        return Text(comment(lines) + yaml_documents([config]))


def _deployment(
    model_name: str, revision: DesiredRevision, options: RenderOptions, *, weight: bool
) -> dict[str, object]:
    params: dict[str, object] = {
        "model": f"{PROVIDER}/{revision.served_name}",
        "api_base": options.api_base,
    }
    if weight:
        params["weight"] = revision.weight
    return {"model_name": model_name, "litellm_params": params}


def _retained_notes(revisions: tuple[DesiredRevision, ...]) -> list[str]:
    kept = [r for r in revisions if not r.routed]
    if not kept:
        return []
    notes = [
        "",
        "retained (weight 0: no traffic, kept loadable for rollback), by served name only:",
    ]
    return notes + [f"  {r.served_name} (alias {r.alias})" for r in kept]
