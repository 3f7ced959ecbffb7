"""The compat gate, adapter side: does this LoRA fit its base, and can vLLM serve it?

Pure metadata: adapter_config.json, the safetensors header of the adapter and the base
manifest's shape table. vLLM does not check which base an adapter was trained for; a
wrong-base adapter whose module names match loads silently, so shapes are checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.inspect.peft import PeftConfig, classify_lora_key, parse_lora_key
from adapterctl.inspect.safetensors import Header
from adapterctl.model import AdapterRevision, BaseManifest

Locate = Callable[[JsonPath], Location]
WEIGHTS: JsonPath = ("artifact", "files", "adapter_model.safetensors")


@dataclass(frozen=True, slots=True)
class AdapterFacts:
    """What the gate reads from an artifact: its PEFT config and its weights' header."""

    config: PeftConfig
    header: Header


def _error(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"compat/{rule}", Severity.ERROR, location, message, hint)


def check_adapter(
    revision: AdapterRevision, facts: AdapterFacts, base: BaseManifest, locate: Locate
) -> list[Finding]:
    """Config vs manifest, features vLLM refuses, and every tensor against the base."""
    return [
        *_config_matches_manifest(revision, facts.config, locate),
        *_servable(facts.config, locate),
        *_base_name(facts.config, base, locate),
        *_tensors(facts, base, locate),
    ]


def _config_matches_manifest(
    revision: AdapterRevision, config: PeftConfig, locate: Locate
) -> Iterator[Finding]:
    lora = revision.lora
    targets = config.target_modules
    pairs: list[tuple[str, object, object]] = [
        ("rank", config.rank, lora.rank),
        ("alpha", float(config.alpha), float(lora.alpha)),
        ("use_rslora", config.use_rslora, lora.use_rslora),
        ("use_dora", config.use_dora, lora.use_dora),
        ("bias", config.bias, lora.bias),
        (
            "target_modules",
            sorted(targets) if isinstance(targets, tuple) else [targets],
            sorted(lora.target_modules),
        ),
        ("modules_to_save", _listed(config.modules_to_save), _listed(lora.modules_to_save)),
    ]
    for field, actual, recorded in pairs:
        if actual != recorded:
            yield _error(
                "config-mismatch",
                locate(("lora", field)),
                f"adapter_config.json has {field} {actual}; the manifest records {recorded}",
                "the manifest must describe the artifact: re-register the adapter",
            )


def _listed(values: tuple[str, ...] | None) -> list[str]:
    return sorted(values or ())


def _servable(config: PeftConfig, locate: Locate) -> Iterator[Finding]:
    hint = "retrain without it: vLLM refuses to load such an adapter"
    if config.use_dora:
        message = "DoRA (use_dora) cannot be served by vLLM"
        yield _error("vllm-unsupported", locate(("lora", "use_dora")), message, hint)
    if config.bias != "none":
        message = f"bias '{config.bias}' cannot be served by vLLM (it needs bias: none)"
        yield _error("vllm-unsupported", locate(("lora", "bias")), message, hint)
    if config.modules_to_save:
        listed = ", ".join(config.modules_to_save)
        message = f"modules_to_save ({listed}) cannot be served by vLLM"
        yield _error("vllm-unsupported", locate(("lora", "modules_to_save")), message, hint)
    if config.trainable_token_indices:
        message = "trainable tokens (trainable_token_indices) cannot be served by vLLM"
        yield _error("vllm-unsupported", locate(("lora",)), message, hint)


def _base_name(config: PeftConfig, base: BaseManifest, locate: Locate) -> Iterator[Finding]:
    named = config.base_model_name_or_path
    if not named:
        return
    known = {base.name, f"{base.name}@{base.revision}", *(base.aliases)}
    if base.source:
        known.add(base.source)
    if named in known or named.rstrip("/").rsplit("/", 1)[-1] in known:
        return
    yield _error(
        "base-name",
        locate(("base",)),
        f"adapter_config.json names base model '{named}', but the manifest binds the "
        f"adapter to {base.name}@{base.revision} (known as: {', '.join(sorted(known))})",
        "register against the base it was trained on, or add the name to the base's aliases",
    )


def _tensors(facts: AdapterFacts, base: BaseManifest, locate: Locate) -> Iterator[Finding]:
    rank = facts.config.rank
    where = locate(WEIGHTS)
    seen: dict[str, set[str]] = {}
    for name, tensor in sorted(facts.header.tensors.items()):
        parsed = parse_lora_key(name)
        if parsed is None:
            yield _not_lora(name, where)
            continue
        module, part = parsed
        seen.setdefault(module, set()).add(part)
        shape = base.shapes.get(module)
        if shape is None:
            yield _error(
                "unknown-module",
                where,
                f"tensor '{name}': module '{module}' does not exist in base "
                f"{base.name}@{base.revision}",
                "the adapter was trained on another base model",
            )
            continue
        expected = (rank, shape[1]) if part == "lora_A" else (shape[0], rank)
        if tuple(tensor.shape) != expected:
            yield _shape(name, part, tuple(tensor.shape), expected, where)
    yield from _unpaired(seen, where)


_UNSERVABLE = {
    "dora_magnitude": "a DoRA magnitude vector",
    "lora_B_bias": "a LoRA bias (lora_bias)",
    "bias": "a bias of the base model (bias: all or lora_only)",
    "weight": "a full module weight (modules_to_save)",
    "trainable_tokens": "a trainable-tokens delta",
    "lora_embedding_A": "a LoRA embedding matrix",
    "lora_embedding_B": "a LoRA embedding matrix",
}


def _not_lora(name: str, where: Location) -> Finding:
    parsed = classify_lora_key(name)
    what = _UNSERVABLE.get(parsed.kind) if parsed else None
    if what is not None:
        message = f"tensor '{name}' is {what}, which vLLM cannot serve"
        return _error("vllm-unsupported", where, message)
    return _error(
        "tensor-key",
        where,
        f"tensor '{name}' is not a LoRA weight "
        "(expected base_model.model.<module>.lora_A.weight or .lora_B.weight)",
    )


def _shape(
    name: str, part: str, actual: tuple[int, ...], expected: tuple[int, int], where: Location
) -> Finding:
    meaning = "[rank, in_features]" if part == "lora_A" else "[out_features, rank]"
    return _error(
        "shape",
        where,
        f"tensor '{name}' has shape {_dims(actual)}; the base and rank need "
        f"{_dims(expected)} {meaning}",
        "the adapter was trained on another base, or its rank differs from adapter_config.json",
    )


def _dims(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _unpaired(seen: dict[str, set[str]], where: Location) -> Iterator[Finding]:
    for module, parts in sorted(seen.items()):
        missing = {"lora_A", "lora_B"} - parts
        if missing:
            yield _error("tensor-key", where, f"module '{module}' has no {missing.pop()} tensor")
