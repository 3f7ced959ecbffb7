"""``litellm``: a LiteLLM proxy ``config.yaml`` whose deployment weights carry the canary split.

Each alias is a model group: one deployment per routed revision, ``weight`` = its share,
picked by the ``simple-shuffle`` strategy (a weighted random pick). Retained revisions
(weight 0) stay out of the alias's group; every revision is also its own group under its
immutable served name, so a client can pin one (golden evals, incident triage).

Canary tenants become LiteLLM's tag routing (``router_settings.enable_tag_filtering``): a
tenant's revision carries the tenant as a tag, the weighted revisions carry ``default``, so
untagged requests follow the weights and a request tagged ``acme`` goes to acme's revision.
LiteLLM takes a request's tags from its key or team (set in LiteLLM's key management,
which needs its database) or from the request body: only the former proves a tenant. Its
Prometheus callback is on, so each deployment's requests and latency are labelled with
the revision's served name.
"""

from __future__ import annotations

from adapterctl.serving.desired import DesiredBase, DesiredRevision, DesiredState
from adapterctl.serving.render.base import RenderOptions, Target, Text, ordered, yaml_text

PROVIDER = "hosted_vllm"


class LiteLLM:
    """Renders a LiteLLM router configuration."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        revisions = ordered(state)
        served: list[Served] = [*revisions, *state.bases]
        tagged = any(r.tenants for r in served)
        routed = sorted((r for r in served if r.weight or r.tenants), key=lambda r: r.alias)
        models = [_deployment(r.alias, r, options, weight=True, tags=tagged) for r in routed]
        models += [_deployment(r.served_name, r, options, weight=False) for r in served]
        router: dict[str, object] = {"routing_strategy": "simple-shuffle"}
        if tagged:
            router["enable_tag_filtering"] = True
        config: dict[str, object] = {
            "model_list": models,
            "router_settings": router,
            "litellm_settings": {"callbacks": ["prometheus"]},
        }
        return yaml_text(state, Target.LITELLM, [config], _retained_notes(revisions))


Served = DesiredRevision | DesiredBase
"""A deployment: an adapter revision on the environment's nodes, or a base routed as a model
of its own on nodes of its own (``--pool-api-base``)."""


def _deployment(
    model_name: str,
    revision: Served,
    options: RenderOptions,
    *,
    weight: bool,
    tags: bool = False,
) -> dict[str, object]:
    params: dict[str, object] = {
        "model": f"{PROVIDER}/{revision.served_name}",
        "api_base": options.api_base_of(revision.served_name),
    }
    if weight:
        # a tenant-only revision (weight 0) gets 1: LiteLLM's weighted pick needs a
        # positive weight among the deployments its tag leaves, and no untagged request
        # reaches it
        params["weight"] = revision.weight or 1
    if tags:
        params["tags"] = (["default"] if revision.weight else []) + list(revision.tenants)
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
