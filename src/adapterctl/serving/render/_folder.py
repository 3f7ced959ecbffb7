"""The plan that folder targets (``resolver-dir``, ``nim``) share: one entry per served name.

Each entry names the artifact's folder in the node's cache; :mod:`.tree` links to it or
copies the verified artifact there. The marker file records what was rendered, so that a
later render may replace a folder it wrote, and nothing else.
"""

from __future__ import annotations

import json

from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render.base import GENERATED, RenderOptions, Target, TreeEntry, ordered

MARKER = ".adapterctl-render.json"
"""The file that marks a folder as rendered (so a re-render may replace it)."""


def entries(state: DesiredState, options: RenderOptions) -> tuple[TreeEntry, ...]:
    """One entry per served name, every revision routed (retained ones too), in order."""
    return tuple(TreeEntry(r.served_name, options.node_path(r), r) for r in ordered(state))


def marker(
    state: DesiredState,
    target: Target,
    folder: tuple[TreeEntry, ...],
    options: RenderOptions,
    extra: dict[str, object],
) -> str:
    """The marker's JSON: the commit, how entries were written, ``extra``, every entry."""
    document = {
        "generated": GENERATED,
        "environment": state.env,
        "commit": state.commit,
        "target": target.value,
        "mode": "copy" if options.copy else "symlink",
        **extra,
        "entries": {
            entry.name: {"digest": entry.revision.digest, "weight": entry.revision.weight}
            | ({} if options.copy else {"link": entry.link})
            for entry in folder
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
