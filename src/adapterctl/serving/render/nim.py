"""``nim``: a ``NIM_PEFT_SOURCE`` folder for NVIDIA NIM for LLMs, and the variables naming it.

NIM serves each valid adapter folder directly under ``NIM_PEFT_SOURCE`` under the folder's
name; a Hugging Face PEFT folder holds ``adapter_config.json`` and
``adapter_model.safetensors``. So the rendered folder holds one folder per served name
(``support-bot@1.1.0``) with links to the artifact's files in the node's cache, or verified
copies. ``NIM_PEFT_REFRESH_INTERVAL`` makes NIM rescan the folder while it runs, so a
re-render takes effect without a restart. The two variables are printed as an
environment file (``KEY=value`` lines, as ``docker run --env-file`` reads them).
"""

from __future__ import annotations

from adapterctl.errors import UsageError
from adapterctl.serving.desired import DesiredState
from adapterctl.serving.render import _folder
from adapterctl.serving.render.base import RenderOptions, Target, Tree, comment, header


class Nim:
    """Renders the plan of a NIM adapter folder; :mod:`.tree` writes it."""

    uses_store = False

    def render(self, state: DesiredState, options: RenderOptions) -> Tree:
        env = {
            "NIM_PEFT_SOURCE": _peft_source(options.peft_source),
            "NIM_PEFT_REFRESH_INTERVAL": str(options.refresh_interval),
        }
        entries = _folder.entries(state, options)
        marker = _folder.marker(state, Target.NIM, entries, options, {"env": env})
        text = comment(header(state, Target.NIM)) + "".join(f"{k}={v}\n" for k, v in env.items())
        return Tree(entries, marker, link_files=True, env=text)


def _peft_source(source: str | None) -> str:
    if source is None or not source.startswith("/") or "\n" in source:
        raise UsageError(
            f"--peft-source {source}: NIM_PEFT_SOURCE must be the folder's absolute path "
            "inside the NIM container"
        )
    return source
