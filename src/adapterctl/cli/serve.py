"""``adapterctl serve``: run the reference node (imports the ``serve`` extra lazily)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapterctl.errors import ExitCode, InputError, UsageError

if TYPE_CHECKING:
    from adapterctl.serve.engine import Engine

#: vLLM's switch for ``/v1/load_lora_adapter`` and ``/v1/unload_lora_adapter`` (vllm/envs.py).
RUNTIME_LORA_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"


@dataclass(frozen=True)
class LoraModule:
    """One ``--lora-modules`` entry (vLLM's ``LoRAModulePath``)."""

    name: str
    path: str
    base_model_name: str | None = None


def parse_lora_module(item: str) -> LoraModule:
    """``name=path`` or ``{"name", "path", "base_model_name"}``, as vLLM's LoRAParserAction."""
    if "=" in item and "," not in item:
        name, _, path = item.partition("=")
        return LoraModule(name, path)
    try:
        fields = json.loads(item)
    except json.JSONDecodeError:
        raise UsageError(f"Invalid JSON format for --lora-modules: {item}") from None
    try:
        return LoraModule(**fields)
    except TypeError as exc:
        raise UsageError(f"Invalid fields for --lora-modules: {item} - {exc}") from None


def runtime_lora_updating(environ: Mapping[str, str] | None = None) -> bool:
    """``VLLM_ALLOW_RUNTIME_LORA_UPDATING`` read exactly as vLLM reads it ("1" or "true")."""
    value = (os.environ if environ is None else environ).get(RUNTIME_LORA_ENV, "0")
    return value.strip().lower() in ("1", "true")


def existing_directory(value: str) -> str:
    """``--base`` exactly as typed (vLLM's model id and ``root`` are ``--model`` as given,
    not a normalised or resolved path), once it names a directory."""
    if not Path(value).is_dir():
        reason = "is a file" if Path(value).exists() else "does not exist"
        raise typer.BadParameter(f"Directory {value!r} {reason}.")
    return value


def load_static_loras(engine: Engine, modules: list[LoraModule]) -> None:
    """Load ``--lora-modules`` at startup; any failure stops the server (as vLLM does)."""
    from adapterctl.serve.engine import LoraError  # noqa: PLC0415 - the serve extra, lazily

    for module in modules:
        if module.base_model_name not in (None, engine.base_name):
            sys.stderr.write(
                f"adapterctl serve: --lora-modules {module.name}: base_model_name "
                f"{module.base_model_name!r} is not served here; its parent is {engine.base_name}\n"
            )
        try:
            engine.load_lora(module.name, module.path)
        except LoraError as exc:
            raise UsageError(f"--lora-modules {module.name}: {exc.message}") from None


def command(
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="Base model directory.",
            metavar="<dir>",
            callback=existing_directory,  # kept as typed: the model id without a served name
        ),
    ],
    lora_modules: Annotated[
        list[str] | None,
        typer.Option(
            "--lora-modules",
            help='LoRA to load at startup: name=path or {"name", "path", "base_model_name"} '
            "JSON (repeatable).",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to bind.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="VLLM_API_KEY", help="Require this bearer token on /v1."),
    ] = None,
    served_model_name: Annotated[
        str | None, typer.Option("--served-model-name", help="Model id of the base.")
    ] = None,
    max_loras: Annotated[int, typer.Option("--max-loras", min=1)] = 1,
    max_lora_rank: Annotated[int, typer.Option("--max-lora-rank", min=1)] = 16,
    max_cpu_loras: Annotated[int | None, typer.Option("--max-cpu-loras", min=1)] = None,
    allowed_lora_dir: Annotated[
        Path | None,
        typer.Option("--allowed-lora-dir", file_okay=False, help="Only load adapters below it."),
    ] = None,
) -> int:
    """Serve a base model and its LoRA adapters with vLLM's OpenAI-compatible API (CPU)."""
    modules = [parse_lora_module(item) for item in lora_modules or () if item]
    options = EngineOptions(served_model_name, max_loras, max_lora_rank, max_cpu_loras)
    serve(base, modules, options, host=host, port=port, api_key=api_key, allowed=allowed_lora_dir)
    return ExitCode.OK


@dataclass(frozen=True)
class EngineOptions:
    """The engine's vLLM-named settings."""

    served_model_name: str | None
    max_loras: int
    max_lora_rank: int
    max_cpu_loras: int | None


def serve(
    base: str,
    modules: list[LoraModule],
    options: EngineOptions,
    *,
    host: str,
    port: int,
    api_key: str | None,
    allowed: Path | None,
) -> None:
    """Build the engine, load the static adapters and run uvicorn until interrupted."""
    try:  # the serve extra, imported only by this command
        import uvicorn  # noqa: PLC0415

        from adapterctl.serve.api import create_app  # noqa: PLC0415
        from adapterctl.serve.engine import Engine  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(
            f"adapterctl serve needs the serve extra ({exc.name} is missing)",
            hint="pip install 'adapterctl[serve]'",
        ) from None
    check_base_folder(base)
    engine = Engine(
        base,
        served_model_name=options.served_model_name,
        max_loras=options.max_loras,
        max_lora_rank=options.max_lora_rank,
        max_cpu_loras=options.max_cpu_loras,
        allowed_lora_dir=allowed,
    )
    load_static_loras(engine, modules)
    updating = runtime_lora_updating()
    app = create_app(engine, api_key=api_key, allow_runtime_lora_updating=updating)
    sys.stdout.write(f"adapterctl serve: {engine.base_name} on http://{host}:{port}\n")
    sys.stdout.flush()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def check_base_folder(base: str) -> None:
    """``--base`` must be a Hugging Face model folder: ``config.json`` naming a
    ``model_type``, and weights (refused here, not as an internal error of transformers)."""
    folder = Path(base)
    config = folder / "config.json"
    hint = "give the folder a model was saved to (save_pretrained), holding config.json and weights"
    if not folder.is_dir():
        raise UsageError(f"--base {base}: not a folder", hint=hint)
    try:
        document = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"--base {base}: no config.json, so not a model folder", hint=hint
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"--base {base}: config.json is not readable JSON ({exc})") from None
    if not isinstance(document, dict) or not document.get("model_type"):
        raise InputError(f"--base {base}: config.json names no model_type", hint=hint)
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise InputError(f"--base {base}: no weights (*.safetensors or *.bin)", hint=hint)
