"""LoRA adapters on the reference node: vLLM's checks, its error texts, and the adapter table.

Everything a client can observe when it loads or unloads an adapter is copied from vLLM 0.32
(``vllm/entrypoints/openai/models/serving.py``, ``vllm/lora/worker_manager.py``,
``vllm/lora/peft_helper.py``, ``vllm/lora/lora_model.py``): the order of the checks, the
messages, the HTTP status and error type. Like vLLM, nothing here looks at the base model an
adapter was trained for (``base_model_name_or_path``), nor at a tokenizer shipped beside it.

The request checks (names, duplicates) are vLLM's API server's and answer 400 or 404. The
adapter checks run in vLLM's worker process: a missing ``adapter_config.json`` is 404 "No
adapter found"; any other failure (rank above ``--max-lora-rank``, DoRA, bias, unreadable
files, unexpected modules) comes back through the engine's RPC as a 500
``InternalServerError`` wrapping the worker's message (:func:`worker_failed`).

The table keeps two things apart, as vLLM does: the *names* a client loaded (listed by
``/v1/models`` until unloaded) and the *resident weights*, an LRU cache of at most
``max_cpu_loras`` adapters. A name whose weights were evicted stays loaded; its weights are
read again from its path on its next request.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

#: The three tensor files vLLM's ``LoRAModel.from_local_checkpoint`` accepts, in its order.
TENSOR_FILES = ("adapter_model.safetensors", "adapter_model.bin", "adapter_model.pt")
REQUIRED_FIELDS = ("r", "lora_alpha", "target_modules")


class LoraError(Exception):
    """A load, unload or request error, carrying vLLM's HTTP status and error type."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        type_: str = "BadRequestError",
        *,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type_ = type_
        self.param = param

    @property
    def type(self) -> str:
        """The OpenAI error ``type`` field (``type_`` under another name)."""
        return self.type_


# --- vLLM's messages -----------------------------------------------------------------------


def both_required() -> LoraError:
    """serving.py ``_check_load_lora_adapter_request``."""
    return LoraError("Both 'lora_name' and 'lora_path' must be provided.", 400, "InvalidUserInput")


def already_loaded(name: str) -> LoraError:
    """serving.py ``_check_load_lora_adapter_request`` (load_inplace is not supported here)."""
    return LoraError(
        f"The lora adapter '{name}' has already been loaded. If you want to load the adapter"
        " in place, set 'load_inplace' to True.",
        400,
        "InvalidUserInput",
    )


def name_required() -> LoraError:
    """serving.py ``_check_unload_lora_adapter_request``."""
    return LoraError(
        "'lora_name' needs to be provided to unload a LoRA adapter.", 400, "InvalidUserInput"
    )


def cannot_be_found(name: str) -> LoraError:
    """serving.py ``_check_unload_lora_adapter_request``."""
    return LoraError(f"The lora adapter '{name}' cannot be found.", 404, "NotFoundError")


def conflicts_with_base(name: str) -> LoraError:
    """serving.py ``_check_load_lora_adapter_request``: a LoRA may not take the base's name."""
    return LoraError(
        f"The lora adapter '{name}' conflicts with a served base model.", 400, "InvalidUserInput"
    )


def worker_failed(error: object) -> LoraError:
    """What vLLM's API server answers when ``add_lora`` fails in the worker: the executor's
    ``RuntimeError`` (v1/executor/multiproc_executor.py) inside the engine core's utility
    failure (v1/engine/core.py ``_invoke_utility_method``), a 500 from serving.py."""
    return LoraError(
        f"Call to add_lora method failed: Worker failed with error '{error}', please check"
        " the stack trace above for the root cause",
        500,
        "InternalServerError",
    )


def no_such_model(model: str) -> LoraError:
    """serving.py ``_check_model``: a request names a model the node does not serve."""
    return LoraError(f"The model `{model}` does not exist.", 404, "NotFoundError", param="model")


def no_adapter_found(name: str, path: str) -> LoraError:
    """worker_manager.py ``_load_adapter`` turns FileNotFoundError into this; serving.py maps
    any message containing "No adapter found" to 404 NotFoundError."""
    return LoraError(
        f"Loading lora {name} failed: No adapter found for {path}", 404, "NotFoundError"
    )


def outside_allowed_dir(path: str, allowed: Path) -> LoraError:
    """Not vLLM: the reference node's own guard (``--allowed-lora-dir``)."""
    return LoraError(
        f"LoRA path '{path}' is outside the allowed directory '{allowed}'.",
        400,
        "BadRequestError",
        param="lora_path",
    )


# --- the checks, in vLLM's order -----------------------------------------------------------


def check_allowed(path: str, allowed: Path | None) -> None:
    """Refuse a path that resolves outside ``allowed`` (symbolic links followed)."""
    if allowed is None:
        return
    root = allowed.expanduser().resolve()
    if "\0" in path:  # no file name holds one; resolve() would raise ValueError
        raise outside_allowed_dir(path.replace("\0", "\\0"), root)
    if not Path(path).expanduser().resolve().is_relative_to(root):
        raise outside_allowed_dir(path, root)


def read_config(name: str, path: str) -> dict[str, Any]:
    """adapter_config.json as ``PEFTHelper.from_local_dir`` reads it.

    Only a missing file (or directory) is "No adapter found" (404); any other error — a
    path that is a file, unreadable JSON — propagates (the worker's failure)."""
    config_path = Path(absolute(path)) / "adapter_config.json"
    try:
        with config_path.open(encoding="utf-8") as handle:
            config: dict[str, Any] = json.load(handle)
    except FileNotFoundError as error:
        raise no_adapter_found(name, path) from error
    config["vllm_max_position_embeddings"] = None  # vLLM's first use: a non-object fails here
    return config


def validate_legal(config: dict[str, Any], max_lora_rank: int) -> None:
    """``PEFTHelper.from_dict``, ``__post_init__`` and ``validate_legal``, in their order and
    with their messages (a value of the wrong type fails with Python's own error, as there)."""
    missing = {field for field in REQUIRED_FIELDS if field not in config}
    if missing:
        raise ValueError(f"Missing required configuration fields: {missing}")
    rank, patterns = config["r"], config.get("rank_pattern") or {}
    if rank <= 0:
        raise ValueError(f"LoRA rank `r` must be a positive integer, got {rank}.")
    for key, value in patterns.items():
        if not isinstance(value, int) or value <= 0:
            raise ValueError(
                f"LoRA rank for `{key}` in `rank_pattern` must be a positive integer, got {value}."
            )
    config["lora_alpha"] / (math.sqrt(rank) if config.get("use_rslora") else rank)  # scaling
    errors = _unsupported_features(config)
    if (top := max([rank, *patterns.values()])) > max_lora_rank:
        errors.append(f"LoRA rank {top} is greater than max_lora_rank {max_lora_rank}.")
    if config.get("bias", "none") != "none":
        errors.append("Adapter bias is not supported.")
    if errors:
        raise ValueError(" ".join(errors))


#: PEFT features vLLM refuses, each with its message (``PEFTHelper._validate_features``).
_REFUSED = (
    ("use_dora", "vLLM does not yet support DoRA."),
    ("lora_bias", "vLLM does not support LoRA bias (lora_bias)."),
    ("init_lora_weights", ""),
    ("alora_invocation_tokens", "vLLM does not support Activated LoRA (aLoRA)."),
    ("layer_replication", "vLLM does not support layer_replication."),
    ("use_bdlora", "vLLM does not support block-diagonal LoRA (BD-LoRA)."),
    ("use_qalora", "vLLM does not support QALoRA."),
)
_PLAIN_INITS = ("gaussian", "eva", "orthogonal", "mica", "lora_ga")


def _unsupported_features(config: dict[str, Any]) -> list[str]:
    errors = []
    saved = [m for m in config.get("modules_to_save") or () if m not in ("classifier", "score")]
    if saved:
        errors.append(
            'vLLM only supports modules_to_save being either None or ["classifier", "score"]'
            f" for classification models. Unsupported modules_to_save: {saved}"
        )
    for field, message in _REFUSED:
        value = config.get(field)
        if field == "init_lora_weights":
            if isinstance(value, str) and value.lower() not in _PLAIN_INITS:
                errors.append(_init_message(value))
        elif value:
            errors.append(message)
    return errors


def _init_message(init: str) -> str:
    return (
        f"vLLM does not support init_lora_weights={init!r}. Inits such as PiSSA, OLoRA, CorDA"
        " and LoftQ modify the base model weights when PEFT loads the adapter. Convert it to a"
        " regular LoRA adapter with PEFT's path_initial_model_for_weight_conversion, or set"
        " init_lora_weights to true if the served base model already contains the modified"
        " weights."
    )


def absolute(path: str) -> str:
    """vLLM's ``get_adapter_absolute_path`` for a local path: an absolute path as given,
    ``~`` expanded, a relative path made absolute (links are not followed)."""
    # os.path, not pathlib: the string as vLLM has it, without pathlib's normalisation
    if os.path.isabs(path):  # noqa: PTH117
        return path
    if path.startswith("~"):
        return os.path.expanduser(path)  # noqa: PTH111
    return os.path.abspath(path) if os.path.exists(path) else path  # noqa: PTH100, PTH110


def _module_of(key: str) -> str | None:
    """``parse_fine_tuned_lora_name``: the module a LoRA tensor belongs to
    (``base_model.model.x.q_proj.lora_A.weight`` → ``x.q_proj``), None for tensors vLLM
    skips (base-layer weights)."""
    if "base_layer" in key:
        return None
    name = key.replace("base_model.model.", "") if key.startswith("base_model.model.") else key
    parts = name.split(".")
    if parts[-1] == "weight" and len(parts) >= 2 and parts[-2] in ("lora_A", "lora_B"):
        return ".".join(parts[:-2])
    if parts[-1] in ("weight", "bias") and len(parts) >= 2 and parts[-2] in _HEADS:
        return parts[-2]
    if parts[-1] in ("lora_embedding_A", "lora_embedding_B"):
        return ".".join(parts[:-1])
    raise ValueError(f"{name} is unsupported LoRA weight")


_HEADS = ("score", "classifier")


def check_tensors(path: str, expected_modules: set[str], saved: list[str]) -> None:
    """``LoRAModel.from_local_checkpoint``: the tensor file exists, its header reads, and
    every LoRA module it holds is one the model can serve (by its last name)."""
    directory = absolute(path)
    tensors = Path(directory) / TENSOR_FILES[0]
    if not tensors.is_file():
        if any((Path(directory) / name).is_file() for name in TENSOR_FILES[1:]):
            return
        raise ValueError(f"{directory} doesn't contain tensors")
    with safe_open(str(tensors), framework="pt") as handle:
        keys = list(handle.keys())
    modules = (_module_of(key) for key in keys)
    unexpected = [
        module
        for module in modules
        if module is not None and module.rsplit(".", 1)[-1] not in {*expected_modules, *saved}
    ]
    if unexpected:
        shown = "{" + ", ".join(repr(m) for m in sorted(expected_modules)) + "}"
        raise ValueError(
            f"While loading {directory}, expected target modules in {shown} but received"
            f" {unexpected}. Please verify that the loaded LoRA module is correct"
        )


def validate(name: str, path: str, *, max_lora_rank: int, expected_modules: set[str]) -> None:
    """Every check vLLM makes before it puts an adapter's weights into the model; a failure
    other than "No adapter found" is the worker's (:func:`worker_failed`)."""
    try:
        config = read_config(name, path)
        validate_legal(config, max_lora_rank)
        check_tensors(path, expected_modules, list(config.get("modules_to_save") or ()))
    except LoraError:
        raise
    except Exception as error:  # the worker's exception, whatever it is
        raise worker_failed(error) from error


# --- the adapter table -----------------------------------------------------------------------


@dataclass(eq=False)
class Adapter:
    """One loaded name. ``key`` is its PEFT adapter name (served names may hold dots)."""

    name: str
    path: str
    key: str
    resident: bool = False
    in_use: int = 0
    unloaded: bool = False


class AdapterTable:
    """Loaded names in load order, and the LRU order of the adapters whose weights are
    resident. Thread-safe; a per-name lock makes load and unload of one name atomic."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._by_name: dict[str, Adapter] = {}
        self._lru: OrderedDict[str, Adapter] = OrderedDict()
        self._name_locks: dict[str, threading.Lock] = {}
        self._ids = itertools.count(1)

    def name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def get(self, name: str) -> Adapter | None:
        with self._lock:
            return self._by_name.get(name)

    def create(self, name: str, path: str) -> Adapter:
        """A new adapter record with a fresh PEFT key (like vLLM's ``lora_int_id``)."""
        with self._lock:
            return Adapter(name=name, path=path, key=f"lora{next(self._ids)}")

    def register(self, adapter: Adapter) -> None:
        with self._lock:
            self._by_name[adapter.name] = adapter

    def unregister(self, name: str) -> Adapter | None:
        with self._lock:
            adapter = self._by_name.pop(name, None)
            if adapter is not None:
                adapter.unloaded = True
            return adapter

    def names(self) -> dict[str, str]:
        with self._lock:
            return {name: adapter.path for name, adapter in self._by_name.items()}

    def touch(self, adapter: Adapter) -> None:
        """Mark ``adapter`` resident and most recently used."""
        with self._lock:
            adapter.resident = True
            self._lru[adapter.key] = adapter
            self._lru.move_to_end(adapter.key)

    def drop(self, adapter: Adapter) -> None:
        """Forget that ``adapter``'s weights are resident."""
        with self._lock:
            adapter.resident = False
            self._lru.pop(adapter.key, None)

    def resident_count(self) -> int:
        with self._lock:
            return len(self._lru)

    def victims(self) -> list[Adapter]:
        """Resident adapters to evict to get back to capacity, least recently used first.
        An adapter that a request is using is never chosen (the cache may run over)."""
        with self._lock:
            excess = len(self._lru) - self.capacity
            idle = [adapter for adapter in self._lru.values() if adapter.in_use == 0]
            return idle[: max(excess, 0)]
