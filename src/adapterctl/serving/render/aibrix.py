"""``aibrix``: one AIBrix ``ModelAdapter`` (model.aibrix.ai/v1alpha1) per revision.

AIBrix's controller loads each adapter onto the pods its ``podSelector`` matches and
registers it under the resource's name, a DNS-1123 label (``support-bot-1-1-0``); the
immutable served name, alias, version, digest and weight travel as annotations. Weights
are not an AIBrix concept: the canary split belongs to the gateway (see ``litellm``).
"""

from __future__ import annotations

from adapterctl.errors import InputError
from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.render import _kube
from adapterctl.serving.render.base import (
    ArtifactBase,
    RenderOptions,
    Target,
    Text,
    ordered,
    yaml_text,
)

API_VERSION = "model.aibrix.ai/v1alpha1"
BASE_LABEL = "model.aibrix.ai/name"
LABEL_VALUE_MAX = 63


class AIBrix:
    """Renders a YAML stream of ModelAdapter resources."""

    uses_store = True

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        base = _kube.artifacts(options, Target.AIBRIX.value)
        _label_value(options.served_base(state))
        revisions = ordered(state)
        _kube.unique({r.served_name: _kube.dns_name(r.served_name) for r in revisions})
        resources = [_adapter(r, state, options, base) for r in revisions]
        warnings = _kube.local_store_warning(base, "AIBrix")
        return yaml_text(state, Target.AIBRIX, resources, warnings=warnings)


def _label_value(served_base: str) -> None:
    """The base's served name is a pod label value here: at most 63 characters (a base
    name may be a DNS-1123 subdomain of up to 253)."""
    if len(served_base) > LABEL_VALUE_MAX:
        raise InputError(
            f"--target aibrix puts the base's served name in the pod label {BASE_LABEL}, "
            f"which takes at most {LABEL_VALUE_MAX} characters; '{served_base}' has "
            f"{len(served_base)}",
            hint="pass --base-name NAME (the name the pods serve the base under)",
        )


def _adapter(
    revision: DesiredRevision, state: DesiredState, options: RenderOptions, base: ArtifactBase
) -> dict[str, object]:
    annotations = {
        "adapterctl.io/served-name": revision.served_name,
        "adapterctl.io/alias": revision.alias,
        "adapterctl.io/version": revision.version,
        "adapterctl.io/digest": revision.digest,
        "adapterctl.io/weight": str(revision.weight),
    }
    name = _kube.dns_name(revision.served_name)
    served_base = options.served_base(state)
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelAdapter",
        "metadata": _kube.metadata(name, state, options, annotations),
        "spec": {
            "baseModel": served_base,
            "podSelector": {"matchLabels": {BASE_LABEL: served_base}},
            "artifactURL": base.of(revision),
            "replicas": 1,
        },
    }
