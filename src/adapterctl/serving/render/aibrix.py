"""``aibrix``: one AIBrix ``ModelAdapter`` (model.aibrix.ai/v1alpha1) per revision.

AIBrix's controller loads each adapter onto the pods its ``podSelector`` matches and
registers it under the resource's name, a DNS-1123 label (``support-bot-1-1-0``); the
immutable served name, alias, version, digest and weight travel as annotations. Weights
are not an AIBrix concept: the canary split belongs to the gateway (see ``litellm``).
"""

from __future__ import annotations

from adapterctl.serving.desired import DesiredRevision, DesiredState
from adapterctl.serving.render import _kube
from adapterctl.serving.render.base import (
    ArtifactBase,
    RenderOptions,
    Target,
    Text,
    comment,
    header,
    ordered,
    yaml_documents,
)

API_VERSION = "model.aibrix.ai/v1alpha1"
BASE_LABEL = "model.aibrix.ai/name"


class AIBrix:
    """Renders a YAML stream of ModelAdapter resources."""

    uses_store = True

    def render(self, state: DesiredState, options: RenderOptions) -> Text:
        base = _kube.artifacts(options, Target.AIBRIX.value)
        revisions = ordered(state)
        _kube.unique({r.served_name: _kube.dns_name(r.served_name) for r in revisions})
        resources = [_adapter(r, state, options, base) for r in revisions]
        warnings = _kube.local_store_warning(base, "AIBrix")
        lines = header(state, Target.AIBRIX) + [f"warning: {w}" for w in warnings]
        return Text(comment(lines) + yaml_documents(resources), warnings)


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
