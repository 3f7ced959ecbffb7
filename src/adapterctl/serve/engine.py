"""The model side of the reference node: a base model, PEFT LoRA adapters, token streaming.

:class:`Engine` holds one transformers causal LM on the CPU (float32, eval mode) and its
tokenizer. LoRA adapters are loaded into one PEFT wrapper around it, each under its own PEFT
key, and chosen per request; requests run one forward step at a time under a lock, so
several requests (with different adapters) interleave token by token. Loading, unloading
and their errors imitate vLLM (see :mod:`adapterctl.serve.loras`); the HTTP layer maps a
:class:`LoraError` to vLLM's error body.

``max_loras`` is accepted for parity with vLLM (its GPU slots per batch); on this CPU engine,
which runs one step at a time, only the resident-weights cache matters: ``max_cpu_loras``
adapters (default ``max_loras``), least recently used evicted first and read again from
disk on their next request.
"""

from __future__ import annotations

import inspect
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftConfig, PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from adapterctl.serve.detokenize import TextStream
from adapterctl.serve.loras import (
    Adapter,
    AdapterTable,
    LoraError,
    already_loaded,
    both_required,
    cannot_be_found,
    check_allowed,
    conflicts_with_base,
    name_required,
    no_such_model,
    validate,
    worker_failed,
)

__all__ = ["Chunk", "Engine", "LoraError", "SamplingError", "SamplingParams"]

_UNKNOWN = "\0unknown"  # the adapter selection must be set before the next step


class SamplingError(ValueError):
    """vLLM's ``VLLMValidationError`` for a sampling parameter: the message, then the
    parameter and the value given (``(parameter=temperature, value=-0.5)``)."""

    def __init__(self, message: str, parameter: str, value: object) -> None:
        super().__init__(f"{message} (parameter={parameter}, value={value})")
        self.parameter = parameter


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens: greedy when ``temperature`` is 0, else seeded nucleus sampling.
    The ranges and messages are vLLM's (``sampling_params.py``, ``_verify_args``)."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        temperature, top_p, max_tokens = self.temperature, self.top_p, self.max_tokens
        if not math.isfinite(temperature):
            message = f"temperature must be a finite number, got {temperature}."
            raise SamplingError(message, "temperature", temperature)
        if temperature < 0:
            message = f"temperature must be non-negative, got {temperature}."
            raise SamplingError(message, "temperature", temperature)
        if temperature > MAX_TEMPERATURE:
            message = f"temperature must be in [0, 2], got {temperature}."
            raise SamplingError(message, "temperature", temperature)
        if not 0 < top_p <= 1:
            raise SamplingError(f"top_p must be in (0, 1], got {top_p}.", "top_p", top_p)
        if max_tokens < 1:
            message = f"max_tokens must be at least 1, got {max_tokens}."
            raise SamplingError(message, "max_tokens", max_tokens)


MAX_TEMPERATURE = 2.0
"""vLLM refuses a higher temperature (``sampling_params.py``)."""


@dataclass(frozen=True)
class Chunk:
    """One step of a stream: the token(s) it produced and the text they completed."""

    text: str
    token_ids: tuple[int, ...]
    finish_reason: str | None


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings transformers and PEFT raise about their own internals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches ``top_p``."""
    ordered, index = torch.sort(probs, descending=True)
    keep = torch.cumsum(ordered, dim=0) - ordered < top_p
    kept = torch.zeros_like(probs).scatter(0, index, torch.where(keep, ordered, 0.0))
    return kept / kept.sum()


def _sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    if params.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1:
        probs = _top_p(probs, params.top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    found: set[int] = set()
    for value in (
        tokenizer.eos_token_id,
        getattr(model.generation_config, "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
    ):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, int))
    return frozenset(found)


def _linear_names(model: torch.nn.Module) -> set[str]:
    """The last names of the model's linear and embedding modules: what a LoRA may target
    (vLLM's ``get_supported_lora_modules``: linear layers and the embedding modules)."""
    return {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding)
    }


class Engine:
    """One base model and its loaded LoRA adapters, served one forward step at a time."""

    def __init__(
        self,
        base_path: Path | str,
        *,
        served_model_name: str | None = None,
        max_loras: int = 1,
        max_lora_rank: int = 16,
        max_cpu_loras: int | None = None,
        allowed_lora_dir: Path | None = None,
    ) -> None:
        cpu_loras = max_loras if max_cpu_loras is None else max_cpu_loras
        if max_loras < 1 or max_lora_rank < 1:
            raise ValueError("max_loras and max_lora_rank must be at least 1")
        if cpu_loras < max_loras:
            raise ValueError(f"max_cpu_loras ({cpu_loras}) must be >= max_loras ({max_loras})")
        self.base_path = str(base_path)
        self.base_name = served_model_name or str(base_path)
        self.max_loras = max_loras
        self.max_cpu_loras = cpu_loras
        self.max_lora_rank = max_lora_rank
        self._allowed = allowed_lora_dir
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        with _quiet():
            model: Any = AutoModelForCausalLM.from_pretrained(
                base_path, dtype=torch.float32, local_files_only=True
            )
            self._tokenizer = AutoTokenizer.from_pretrained(base_path, local_files_only=True)
        self._model: Any = model.eval()
        self.max_model_len = int(model.config.max_position_embeddings)
        self._eos = _eos_ids(model, self._tokenizer)
        self._expected_modules = _linear_names(model)
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._peft: Any = None
        self._selected: str | None = _UNKNOWN
        self._table = AdapterTable(cpu_loras)
        self._model_lock = threading.Lock()

    # --- text ------------------------------------------------------------------------------

    def render_chat(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """The base tokenizer's chat template, rendered (used for LoRA requests too)."""
        rendered = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return str(rendered)

    def encode(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return [int(i) for i in self._tokenizer.encode(text, add_special_tokens=add_special_tokens)]

    # --- adapters --------------------------------------------------------------------------

    def loras(self) -> dict[str, str]:
        """Loaded name → path, in load order (what ``/v1/models`` lists)."""
        return self._table.names()

    def load_lora(self, name: str, path: str, *, inplace: bool = False) -> None:
        """Validate like vLLM, then load the weights; raises :class:`LoraError`. With
        ``inplace`` a loaded name gets the new weights once they have loaded (requests
        already running finish on the old ones); a failed load leaves the old in place."""
        if not name or not path:
            raise both_required()
        if name == self.base_name:
            raise conflicts_with_base(name)
        with self._table.name_lock(name):
            previous = self._table.get(name)
            if previous is not None and not inplace:
                raise already_loaded(name)
            check_allowed(path, self._allowed)
            validate(
                name,
                path,
                max_lora_rank=self.max_lora_rank,
                expected_modules=self._expected_modules,
            )
            adapter = self._table.create(name, path)
            with self._model_lock:
                try:
                    self._load_weights(adapter)
                except LoraError as error:
                    raise worker_failed(error.message) from error
                self._evict()
            self._table.register(adapter)
            if previous is not None:
                self._retire(previous)

    def unload_lora(self, name: str) -> None:
        """Forget ``name``; its weights go now, or when the last request using them ends."""
        if not name:
            raise name_required()
        with self._table.name_lock(name):
            adapter = self._table.unregister(name)
            if adapter is None:
                raise cannot_be_found(name)
        self._retire(adapter)

    def _retire(self, adapter: Adapter) -> None:
        """``adapter`` is no longer listed: drop its weights once no request uses them."""
        with self._model_lock:
            adapter.unloaded = True
            if adapter.in_use == 0:
                self._delete_weights(adapter)

    def _load_weights(self, adapter: Adapter) -> None:
        """Put ``adapter``'s weights into the PEFT wrapper (created on first use). The base
        model an adapter names in its config is never consulted. Caller holds the lock."""
        try:
            with _quiet():
                if self._peft is None:
                    config = PeftConfig.from_pretrained(adapter.path)
                    config.inference_mode = True
                    self._peft = PeftModel(self._model, config, adapter_name=adapter.key)
                self._peft.load_adapter(adapter.path, adapter_name=adapter.key)
        except Exception as error:
            self._discard(adapter.key)
            raise LoraError(str(error)) from error
        self._table.touch(adapter)
        self._selected = _UNKNOWN

    def _discard(self, key: str) -> None:
        if self._peft is not None and key in self._peft.peft_config:
            with _quiet():
                self._peft.delete_adapter(key)
        self._selected = _UNKNOWN

    def _delete_weights(self, adapter: Adapter) -> None:
        if adapter.resident:
            self._discard(adapter.key)
            self._table.drop(adapter)

    def _evict(self) -> None:
        """Evict least recently used idle adapters down to the cache size."""
        for victim in self._table.victims():
            self._delete_weights(victim)

    # --- generation ------------------------------------------------------------------------

    def generate(
        self, prompt_ids: list[int], params: SamplingParams, lora: str | None = None
    ) -> Iterator[Chunk]:
        """Stream the completion of ``prompt_ids``: one chunk per token, then a last chunk
        with the finish reason. An unknown ``lora`` or a bad prompt raises here, before
        the stream starts."""
        adapter = None
        if lora is not None:
            adapter = self._table.get(lora)
            if adapter is None:
                raise no_such_model(lora)
        if not prompt_ids:
            raise ValueError("The prompt must contain at least one token.")
        if len(prompt_ids) >= self.max_model_len:
            raise ValueError(
                f"The prompt ({len(prompt_ids)} tokens) does not fit the maximum model"
                f" length of {self.max_model_len} tokens."
            )
        return self._stream(list(prompt_ids), params, adapter)

    def _stream(
        self, prompt_ids: list[int], params: SamplingParams, adapter: Adapter | None
    ) -> Iterator[Chunk]:
        generator = _generator(params.seed)
        text = TextStream(self._tokenizer, prompt_ids, params.stop)
        budget = min(params.max_tokens, self.max_model_len - len(prompt_ids))
        self._acquire(adapter)
        try:
            ids, cache, finish = torch.tensor([prompt_ids]), None, "length"
            for _ in range(budget):
                logits, cache = self._step(adapter, ids, cache)
                token = _sample(logits, params, generator)
                if token in self._eos:
                    yield Chunk("", (token,), None)
                    finish = "stop"
                    break
                piece, stopped = text.push(token)
                yield Chunk(piece, (token,), None)
                if stopped:
                    finish = "stop"
                    break
                ids = torch.tensor([[token]])
            yield Chunk(text.flush(), (), finish)
        finally:
            self._release(adapter)

    def _acquire(self, adapter: Adapter | None) -> None:
        if adapter is not None:
            with self._model_lock:
                adapter.in_use += 1

    def _release(self, adapter: Adapter | None) -> None:
        if adapter is None:
            return
        with self._model_lock:
            adapter.in_use -= 1
            if adapter.unloaded and adapter.in_use == 0:
                self._delete_weights(adapter)
            self._evict()

    def _step(
        self, adapter: Adapter | None, ids: torch.Tensor, cache: Any
    ) -> tuple[torch.Tensor, Any]:
        """One forward pass with ``adapter`` (None: the base model) selected."""
        with self._model_lock, torch.inference_mode():
            self._select(adapter)
            kwargs = {self._cache_kw: cache, "use_cache": True, "logits_to_keep": 1}
            out = self._model(input_ids=ids, **kwargs)
        return out.logits[0, -1], getattr(out, self._cache_kw)

    def _select(self, adapter: Adapter | None) -> None:
        """Make ``adapter``'s weights resident and the only ones active. Caller holds the lock."""
        if adapter is not None:
            if not adapter.resident:
                self._load_weights(adapter)
                self._evict()
            self._table.touch(adapter)
        wanted = None if adapter is None else adapter.key
        if wanted == self._selected or self._peft is None:
            return
        with _quiet():
            if wanted is None:
                self._peft.base_model.disable_adapter_layers()
            else:
                self._peft.base_model.enable_adapter_layers()
                self._peft.set_adapter(wanted)
        self._selected = wanted
