"""A deterministic generator of tiny, real Hugging Face model and PEFT LoRA directories.

The files are what ``transformers`` (4.51) and PEFT (0.18) write, at toy sizes: a base
directory has ``config.json``, float16 safetensors weights with the architecture's real
tensor names and shapes (optionally sharded with ``model.safetensors.index.json``) and a
byte-level BPE tokenizer; an adapter directory has ``adapter_config.json`` and
``adapter_model.safetensors`` with PEFT's saved key names, shaped from a base spec. The
same spec always gives byte-identical files: JSON keys are sorted, random values come from
fixed seeds, nothing records a time.

``python -m examples.kit OUT_DIR`` writes the example set (see ``EXAMPLE_BASES`` and
``EXAMPLE_ADAPTERS``; OUT_DIR/README.md lists it). Not a dependency of ``adapterctl``.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from safetensors.numpy import save_file

from examples.kit_tokenizer import (
    BOS_ID,
    DEFAULT_CHAT_TEMPLATE,
    DRIFTED_CHAT_TEMPLATE,
    EOS_ID,
    PAD_ID,
    TemplateLocation,
    write_json,
    write_tokenizer_files,
)

Arch = Literal["llama", "mistral", "qwen2", "gemma"]
Tensors = dict[str, npt.NDArray[Any]]

ARCHITECTURES: dict[str, str] = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "gemma": "GemmaForCausalLM",
}
TRANSFORMERS_VERSION = "4.51.3"
PEFT_VERSION = "0.18.1"
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
#: Whole modules an adapter may list in ``modules_to_save``, by module path.
SAVABLE = {"lm_head": "lm_head", "embed_tokens": "model.embed_tokens"}
SAFETENSORS_METADATA = {"format": "pt"}


@dataclass(frozen=True)
class BaseSpec:
    """A tiny base model. ``quantization`` becomes config.json's ``quantization_config``
    (metadata only: the weights stay float16); ``shards`` > 1 splits the weights.

    The defaults give head_dim 32 (128 / 4 heads): vLLM's CPU attention refuses head_dim
    16, so a smaller head would make the example bases unservable by real vLLM."""

    arch: Arch
    hidden_size: int = 128
    intermediate_size: int = 256
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    vocab_size: int = 512
    max_position_embeddings: int = 512
    seed: int = 0
    quantization: dict[str, Any] | None = None
    shards: int = 1
    chat_template: str = DEFAULT_CHAT_TEMPLATE
    template_location: TemplateLocation = "tokenizer_config"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must divide by num_heads, num_heads by num_kv_heads")
        if self.shards < 1:
            raise ValueError("shards must be at least 1")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def tied(self) -> bool:
        """Gemma ties lm_head to the embeddings (no ``lm_head.weight`` tensor)."""
        return self.arch == "gemma"


@dataclass(frozen=True)
class AdapterSpec:
    """A PEFT LoRA adapter. ``lora_bias`` (PEFT's own flag) adds ``lora_B.bias``."""

    rank: int = 8
    alpha: float = 16
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    seed: int = 1
    base_model_name_or_path: str = "tiny-llama"
    use_dora: bool = False
    bias: str = "none"
    modules_to_save: tuple[str, ...] | None = None
    use_rslora: bool = False
    lora_bias: bool = False


def module_shapes(spec: BaseSpec) -> dict[str, tuple[int, int]]:
    """Linear module name → (out_features, in_features); the same in every layer.

    ``lm_head`` is listed for every architecture (for Gemma it shares the embedding)."""
    q_out = spec.num_heads * spec.head_dim
    kv_out = spec.num_kv_heads * spec.head_dim
    hidden, inter = spec.hidden_size, spec.intermediate_size
    return {
        "q_proj": (q_out, hidden),
        "k_proj": (kv_out, hidden),
        "v_proj": (kv_out, hidden),
        "o_proj": (hidden, q_out),
        "gate_proj": (inter, hidden),
        "up_proj": (inter, hidden),
        "down_proj": (hidden, inter),
        "lm_head": (spec.vocab_size, hidden),
    }


def module_path(module: str, layer: int) -> str:
    """The module's path in the transformers model, e.g. ``model.layers.0.self_attn.q_proj``."""
    if module == "lm_head":
        return "lm_head"
    if module in ATTENTION:
        return f"model.layers.{layer}.self_attn.{module}"
    if module in MLP:
        return f"model.layers.{layer}.mlp.{module}"
    raise ValueError(f"unknown linear module {module!r}")


# --- base model ----------------------------------------------------------------------------


def _arch_config(spec: BaseSpec) -> dict[str, Any]:
    """The fields that differ between the architectures' config classes."""
    if spec.arch == "llama":
        return {
            "attention_bias": False,
            "head_dim": spec.head_dim,
            "mlp_bias": False,
            "pretraining_tp": 1,
            "rope_scaling": None,
        }
    if spec.arch == "mistral":
        return {"head_dim": spec.head_dim, "sliding_window": 4096}
    if spec.arch == "qwen2":
        return {
            "max_window_layers": 28,
            "rope_scaling": None,
            "sliding_window": 4096,
            "use_sliding_window": False,
        }
    return {
        "attention_bias": False,
        "head_dim": spec.head_dim,
        "hidden_activation": "gelu_pytorch_tanh",
        "pad_token_id": PAD_ID,
    }


def config_dict(spec: BaseSpec) -> dict[str, Any]:
    """config.json as ``PretrainedConfig.save_pretrained`` writes it for ``spec``."""
    config: dict[str, Any] = {
        "architectures": [ARCHITECTURES[spec.arch]],
        "attention_dropout": 0.0,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "hidden_act": "gelu_pytorch_tanh" if spec.arch == "gemma" else "silu",
        "hidden_size": spec.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": spec.intermediate_size,
        "max_position_embeddings": spec.max_position_embeddings,
        "model_type": spec.arch,
        "num_attention_heads": spec.num_heads,
        "num_hidden_layers": spec.num_layers,
        "num_key_value_heads": spec.num_kv_heads,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "tie_word_embeddings": spec.tied,
        "torch_dtype": "float16",
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "vocab_size": spec.vocab_size,
        **_arch_config(spec),
    }
    if spec.quantization is not None:
        config["quantization_config"] = dict(spec.quantization)
    return config


def _f16(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> npt.NDArray[Any]:
    return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float16)


def _f32(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> npt.NDArray[Any]:
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)


def _layer_tensors(spec: BaseSpec, layer: int, rng: np.random.Generator) -> Tensors:
    shapes = module_shapes(spec)
    tensors: Tensors = {}
    for module in (*ATTENTION, *MLP):
        tensors[f"{module_path(module, layer)}.weight"] = _f16(rng, shapes[module], 0.02)
        if spec.arch == "qwen2" and module in ("q_proj", "k_proj", "v_proj"):
            tensors[f"{module_path(module, layer)}.bias"] = _f16(rng, shapes[module][:1], 0.02)
    # Gemma's RMSNorm scales by (1 + weight), so its neutral weight is 0, not 1.
    norm = np.zeros if spec.arch == "gemma" else np.ones
    for name in ("input_layernorm", "post_attention_layernorm"):
        tensors[f"model.layers.{layer}.{name}.weight"] = norm(spec.hidden_size, dtype=np.float16)
    return tensors


def base_tensors(spec: BaseSpec) -> Tensors:
    """The base weights in ``state_dict`` order, float16, from ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    embed = (spec.vocab_size, spec.hidden_size)
    tensors: Tensors = {"model.embed_tokens.weight": _f16(rng, embed, 0.02)}
    for layer in range(spec.num_layers):
        tensors.update(_layer_tensors(spec, layer, rng))
    norm = np.zeros if spec.arch == "gemma" else np.ones
    tensors["model.norm.weight"] = norm(spec.hidden_size, dtype=np.float16)
    if not spec.tied:
        tensors["lm_head.weight"] = _f16(rng, embed, 0.02)
    return tensors


def _save_weights(target: Path, tensors: Tensors, shards: int) -> None:
    if shards == 1:
        save_file(tensors, str(target / "model.safetensors"), metadata=SAFETENSORS_METADATA)
        return
    names = list(tensors)
    if shards > len(names):
        raise ValueError(f"cannot split {len(names)} tensors into {shards} shards")
    weight_map: dict[str, str] = {}
    for index, part in enumerate(np.array_split(np.arange(len(names)), shards), start=1):
        filename = f"model-{index:05d}-of-{shards:05d}.safetensors"
        shard = {names[i]: tensors[names[i]] for i in part.tolist()}
        save_file(shard, str(target / filename), metadata=SAFETENSORS_METADATA)
        weight_map.update(dict.fromkeys(shard, filename))
    total = sum(int(array.nbytes) for array in tensors.values())
    index_doc = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write_json(target / "model.safetensors.index.json", index_doc)


def make_base(target: Path, spec: BaseSpec) -> None:
    """Write a base model directory (config, weights, tokenizer) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "config.json", config_dict(spec))
    _save_weights(target, base_tensors(spec), spec.shards)
    write_tokenizer_files(
        target,
        spec.vocab_size,
        spec.max_position_embeddings,
        spec.chat_template,
        spec.template_location,
    )


# --- adapter -------------------------------------------------------------------------------


def _lora_alpha(alpha: float) -> float | int:
    return int(alpha) if float(alpha).is_integer() else alpha


_PEFT_NULL_FIELDS = (
    "alora_invocation_tokens",
    "arrow_config",
    "auto_mapping",
    "corda_config",
    "eva_config",
    "exclude_modules",
    "layer_replication",
    "layers_pattern",
    "layers_to_transform",
    "megatron_config",
    "revision",
    "target_parameters",
    "trainable_token_indices",
)


def adapter_config_dict(spec: AdapterSpec) -> dict[str, Any]:
    """adapter_config.json as PEFT's ``LoraConfig.save_pretrained`` writes it."""
    config: dict[str, Any] = dict.fromkeys(_PEFT_NULL_FIELDS)
    config.update(
        alpha_pattern={},
        base_model_name_or_path=spec.base_model_name_or_path,
        bias=spec.bias,
        ensure_weight_tying=False,
        fan_in_fan_out=False,
        inference_mode=True,
        init_lora_weights=True,
        loftq_config={},
        lora_alpha=_lora_alpha(spec.alpha),
        lora_bias=spec.lora_bias,
        lora_dropout=0.05,
        megatron_core="megatron.core",
        modules_to_save=None if spec.modules_to_save is None else list(spec.modules_to_save),
        peft_type="LORA",
        peft_version=PEFT_VERSION,
        qalora_group_size=16,
        r=spec.rank,
        rank_pattern={},
        target_modules=sorted(spec.target_modules),
        task_type="CAUSAL_LM",
        use_dora=spec.use_dora,
        use_qalora=False,
        use_rslora=spec.use_rslora,
    )
    return config


def _targets(base: BaseSpec, spec: AdapterSpec) -> list[tuple[str, str]]:
    """(module name, module path) of every targeted linear, layer by layer."""
    unknown = set(spec.target_modules) - set(module_shapes(base))
    if unknown:
        raise ValueError(f"unknown target modules: {sorted(unknown)}")
    layered = sorted(set(spec.target_modules) - {"lm_head"})
    targets = [(m, module_path(m, i)) for i in range(base.num_layers) for m in layered]
    if "lm_head" in spec.target_modules:
        targets.append(("lm_head", "lm_head"))
    return targets


def _bias_tensors(base: BaseSpec, spec: AdapterSpec, rng: np.random.Generator) -> Tensors:
    """bias="all" saves every bias of the model (Qwen2's q/k/v); a LoRA-wrapped module's
    bias lives under ``base_layer``. PEFT's "lora_only" finds none of those, so saves none."""
    if spec.bias != "all" or base.arch != "qwen2":
        return {}
    shapes, tensors = module_shapes(base), {}
    for layer in range(base.num_layers):
        for module in ("q_proj", "k_proj", "v_proj"):
            inner = ".base_layer" if module in spec.target_modules else ""
            key = f"base_model.model.{module_path(module, layer)}{inner}.bias"
            tensors[key] = _f16(rng, shapes[module][:1], 0.02)
    return tensors


def adapter_tensors(base: BaseSpec, spec: AdapterSpec) -> Tensors:
    """The adapter's saved state dict: PEFT key names (adapter name dropped), float32."""
    rng = np.random.default_rng(spec.seed)
    shapes = module_shapes(base)
    tensors: Tensors = {}
    for module, path in _targets(base, spec):
        out_f, in_f = shapes[module]
        prefix = f"base_model.model.{path}"
        tensors[f"{prefix}.lora_A.weight"] = _f32(rng, (spec.rank, in_f), 0.02)
        tensors[f"{prefix}.lora_B.weight"] = _f32(rng, (out_f, spec.rank), 0.01)
        if spec.lora_bias:
            tensors[f"{prefix}.lora_B.bias"] = _f32(rng, (out_f,), 0.01)
        if spec.use_dora:
            magnitude = 1.0 + np.abs(_f32(rng, (out_f,), 0.1))
            tensors[f"{prefix}.lora_magnitude_vector"] = magnitude
    tensors.update(_bias_tensors(base, spec, rng))
    for name in spec.modules_to_save or ():
        if name not in SAVABLE:
            raise ValueError(f"modules_to_save: unsupported module {name!r}")
        shape = (base.vocab_size, base.hidden_size)
        tensors[f"base_model.model.{SAVABLE[name]}.weight"] = _f16(rng, shape, 0.02)
    return tensors


def adapter_keys(base: BaseSpec, spec: AdapterSpec) -> dict[str, tuple[int, ...]]:
    """Saved key → shape, as ``make_adapter`` writes them (for cross-checks in tests)."""
    return {key: tuple(array.shape) for key, array in adapter_tensors(base, spec).items()}


def make_adapter(target: Path, base: BaseSpec, spec: AdapterSpec) -> None:
    """Write a PEFT LoRA adapter directory for ``base`` into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "adapter_config.json", adapter_config_dict(spec))
    path = str(target / "adapter_model.safetensors")
    save_file(adapter_tensors(base, spec), path, metadata=SAFETENSORS_METADATA)


# --- the example set -----------------------------------------------------------------------

_R1 = BaseSpec(arch="llama")
#: Other shapes, same module names and head_dim (32, so vLLM's CPU backend serves it too).
_WIDE = BaseSpec(arch="llama", hidden_size=192, num_heads=6)
_QV, _QKVO = ("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj")

#: Directory under bases/ → (spec, what it is for).
EXAMPLE_BASES: dict[str, tuple[BaseSpec, str]] = {
    "tiny-llama-r1": (_R1, "the base every example adapter is trained on"),
    "tiny-llama-r2-template-drift": (
        BaseSpec(arch="llama", chat_template=DRIFTED_CHAT_TEMPLATE),
        "r1's weights and tokenizer, a chat template that adds a default system turn",
    ),
    "tiny-llama-wide": (_WIDE, "another base: hidden_size 192, same module names"),
}
#: Directory under adapters/ → (base spec, adapter spec, what it is for).
EXAMPLE_ADAPTERS: dict[str, tuple[BaseSpec, AdapterSpec, str]] = {
    "support-bot-1.0.0": (_R1, AdapterSpec(rank=8, seed=101), "rank 8, q/v"),
    "support-bot-1.1.0": (_R1, AdapterSpec(rank=8, seed=102), "rank 8, q/v, retrained"),
    "support-bot-1.2.0": (
        _R1,
        AdapterSpec(rank=16, alpha=32, target_modules=_QKVO, seed=103),
        "rank 16, q/k/v/o",
    ),
    "sql-helper-1.0.0": (_R1, AdapterSpec(alpha=8, target_modules=_QKVO, seed=201), "q/k/v/o"),
    "sql-helper-1.1.0": (_R1, AdapterSpec(alpha=8, target_modules=_QKVO, seed=202), "q/k/v/o"),
    "support-bot-wrong-base": (
        _WIDE,
        AdapterSpec(seed=301, base_model_name_or_path="tiny-llama-wide"),
        "trained on tiny-llama-wide: same keys as support-bot, other shapes",
    ),
    "support-bot-dora": (_R1, AdapterSpec(seed=401, use_dora=True), "DoRA, q/v"),
}


def _readme() -> str:
    lines = ["# Example model kit output", "", "Generated by `python -m examples.kit`.", ""]
    lines += [f"- `bases/{name}`: {about}" for name, (_, about) in EXAMPLE_BASES.items()]
    lines += [f"- `adapters/{name}`: {about}" for name, (*_, about) in EXAMPLE_ADAPTERS.items()]
    return "\n".join(lines) + "\n"


def write_examples(out: Path) -> None:
    """Write the example set into ``out``, replacing the directories it owns."""
    out.mkdir(parents=True, exist_ok=True)
    for name, (spec, _) in EXAMPLE_BASES.items():
        shutil.rmtree(out / "bases" / name, ignore_errors=True)
        make_base(out / "bases" / name, spec)
    for name, (base, adapter, _) in EXAMPLE_ADAPTERS.items():
        shutil.rmtree(out / "adapters" / name, ignore_errors=True)
        make_adapter(out / "adapters" / name, base, adapter)
    (out / "README.md").write_text(_readme(), encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.kit", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="where to write bases/ and adapters/")
    args = parser.parse_args(argv)
    write_examples(args.out_dir)


if __name__ == "__main__":
    main()
