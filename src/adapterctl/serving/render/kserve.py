"""``kserve``: a KServe ``LLMInferenceService`` (serving.kserve.io/v1alpha1) for the base.

KServe documents LoRA adapters on ``LLMInferenceService`` as ``spec.model.lora.adapters``,
each ``{name, uri}``; its storage initializer downloads them (``s3://``, ``hf://``) and
vLLM serves each under ``name``, here the immutable served name. Every revision the
environment routes is listed, retained ones too; the split belongs to the gateway.
"""

from __future__ import annotations

from adapterctl.errors import UsageError
from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render import _kube
from adapterctl.serving.render.base import RenderOptions, Target, Text, ordered, yaml_text

API_VERSION = "serving.kserve.io/v1alpha1"


class KServe:
    """Renders one LLMInferenceService with the environment's adapters."""

    uses_store = True

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        base = _kube.artifacts(options, Target.KSERVE.value)
        adapters = [{"name": r.served_name, "uri": base.of(r)} for r in ordered(state)]
        served_base = options.served_base(state)
        model: dict[str, object] = {"uri": _base_uri(state, options, base.url), "name": served_base}
        if adapters:
            model["lora"] = {"adapters": adapters}
        name = _kube.dns_name(f"{served_base}-{state.env}")
        annotations = {"adapterctl.io/base": f"{state.base.name}@{state.base.revision}"}
        service: dict[str, object] = {
            "apiVersion": API_VERSION,
            "kind": "LLMInferenceService",
            "metadata": _kube.metadata(name, state, options, annotations),
            "spec": {"model": model},
        }
        warnings = _kube.local_store_warning(base, "KServe")
        return yaml_text(state, Target.KSERVE, [service], warnings=warnings)


def _base_uri(state: DesiredState, options: RenderOptions, store_url: str) -> str:
    """--base-uri, else the base's weights in the store when its manifest names them."""
    if options.base_uri:
        return options.base_uri
    weights = state.base.weights_artifact
    if weights is None:
        raise UsageError(
            f"--target kserve needs the base model's URI: bases/{state.base.name}/"
            f"{state.base.revision}.yaml names no weights_artifact, so pass --base-uri URI"
        )
    return f"{store_url}/sha256/{str(weights).removeprefix('sha256:')}"
