"""The example model kit writes real, deterministic HF model and PEFT adapter directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import jinja2
import numpy as np
import pytest
from safetensors import safe_open
from tokenizers import Tokenizer

from examples.kit import (
    ARCHITECTURES,
    EXAMPLE_ADAPTERS,
    EXAMPLE_BASES,
    AdapterSpec,
    Arch,
    BaseSpec,
    adapter_keys,
    make_adapter,
    make_base,
    module_path,
    module_shapes,
    write_examples,
)
from examples.kit_tokenizer import (
    BOS_TOKEN,
    DEFAULT_CHAT_TEMPLATE,
    DRIFTED_CHAT_TEMPLATE,
    EOS_TOKEN,
    TemplateLocation,
)

REPO = Path(__file__).resolve().parent.parent
ARCHS: tuple[Arch, ...] = get_args(Arch)
SENTENCE = "Could you check my refund? SELECT id FROM orders WHERE status = 'open';"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"format": "pt"}
        return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118


def load_tensors(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    with safe_open(str(path), framework="numpy") as f:
        return {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def expected_base_shapes(spec: BaseSpec) -> dict[str, tuple[int, ...]]:
    shapes = module_shapes(spec)
    hidden = (spec.hidden_size,)
    expected: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (spec.vocab_size, spec.hidden_size),
        "model.norm.weight": hidden,
    }
    for layer in range(spec.num_layers):
        for module in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
            expected[f"{module_path(module, layer)}.weight"] = shapes[module]
            if spec.arch == "qwen2" and module in ("q_proj", "k_proj", "v_proj"):
                expected[f"{module_path(module, layer)}.bias"] = shapes[module][:1]
        expected[f"model.layers.{layer}.input_layernorm.weight"] = hidden
        expected[f"model.layers.{layer}.post_attention_layernorm.weight"] = hidden
    if spec.arch != "gemma":
        expected["lm_head.weight"] = shapes["lm_head"]
    return expected


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit")
    write_examples(out)
    return out


# --- determinism ---------------------------------------------------------------------------


def test_example_set_is_byte_identical_across_processes(examples_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    command = [sys.executable, "-m", "examples.kit", str(tmp_path / "again")]
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    assert tree(tmp_path / "again") == tree(examples_dir)


@pytest.mark.parametrize("arch", ARCHS)
def test_make_base_twice_is_byte_identical(arch: Arch, tmp_path: Path) -> None:
    spec = BaseSpec(arch=arch, shards=2, template_location="jinja")
    make_base(tmp_path / "a", spec)
    make_base(tmp_path / "b", spec)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_make_adapter_twice_is_byte_identical(tmp_path: Path) -> None:
    base, spec = BaseSpec(arch="llama"), AdapterSpec(use_dora=True)
    make_adapter(tmp_path / "a", base, spec)
    make_adapter(tmp_path / "b", base, spec)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


# --- base models ---------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_base_has_the_architectures_tensors(arch: Arch, tmp_path: Path) -> None:
    spec = BaseSpec(arch=arch)
    make_base(tmp_path, spec)
    assert tensor_shapes(tmp_path / "model.safetensors") == expected_base_shapes(spec)
    tensors = load_tensors(tmp_path / "model.safetensors")
    assert {str(array.dtype) for array in tensors.values()} == {"float16"}
    assert float(np.abs(tensors["model.layers.0.self_attn.q_proj.weight"]).max()) < 1.0


@pytest.mark.parametrize("arch", ARCHS)
def test_base_config_matches_the_architecture(arch: Arch, tmp_path: Path) -> None:
    spec = BaseSpec(arch=arch)
    make_base(tmp_path, spec)
    config = read_json(tmp_path / "config.json")
    assert config["architectures"] == [ARCHITECTURES[arch]]
    assert config["model_type"] == arch
    assert config["num_hidden_layers"] == 2
    assert config["num_attention_heads"] == 4
    assert config["num_key_value_heads"] == 2
    assert (config["hidden_size"], config["intermediate_size"]) == (128, 256)
    # head_dim 32 (qwen2 derives it from hidden_size / heads): vLLM's CPU backend refuses 16.
    assert config.get("head_dim", spec.hidden_size // spec.num_heads) == 32
    assert config["vocab_size"] == 512
    assert config["tie_word_embeddings"] is (arch == "gemma")
    assert ("head_dim" in config) is (arch != "qwen2")
    assert ("sliding_window" in config) is (arch in ("mistral", "qwen2"))
    assert "quantization_config" not in config
    assert list(config) == sorted(config)


def test_quantization_is_config_metadata_only(tmp_path: Path) -> None:
    quant = {"quant_method": "gptq", "bits": 4, "group_size": 128}
    make_base(tmp_path, BaseSpec(arch="llama", quantization=quant))
    assert read_json(tmp_path / "config.json")["quantization_config"] == quant
    tensors = load_tensors(tmp_path / "model.safetensors")
    assert tensors["lm_head.weight"].dtype == np.float16


def test_sharded_index_is_consistent_with_the_shards(tmp_path: Path) -> None:
    spec = BaseSpec(arch="qwen2", shards=3)
    make_base(tmp_path / "sharded", spec)
    make_base(tmp_path / "single", BaseSpec(arch="qwen2"))
    index = read_json(tmp_path / "sharded" / "model.safetensors.index.json")
    files = sorted(set(index["weight_map"].values()))
    assert files == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert not (tmp_path / "sharded" / "model.safetensors").exists()
    merged: dict[str, np.ndarray[Any, Any]] = {}
    for name in files:
        shard = load_tensors(tmp_path / "sharded" / name)
        assert {k for k, v in index["weight_map"].items() if v == name} == set(shard)
        merged.update(shard)
    single = load_tensors(tmp_path / "single" / "model.safetensors")
    assert set(merged) == set(single)
    assert all(np.array_equal(merged[k], single[k]) for k in single)
    assert index["metadata"]["total_size"] == sum(v.nbytes for v in single.values())


# --- tokenizer and chat template -----------------------------------------------------------


def test_tokenizer_loads_and_round_trips(examples_dir: Path) -> None:
    base = examples_dir / "bases" / "tiny-llama-r1"
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    assert tokenizer.get_vocab_size() == 512
    encoding = tokenizer.encode(SENTENCE)
    config = read_json(base / "config.json")
    assert encoding.ids[0] == config["bos_token_id"] == tokenizer.token_to_id(BOS_TOKEN)
    assert config["eos_token_id"] == tokenizer.token_to_id(EOS_TOKEN)
    assert tokenizer.decode(encoding.ids) == SENTENCE
    assert max(encoding.ids) < config["vocab_size"]
    tokenizer_config = read_json(base / "tokenizer_config.json")
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tokenizer_config["bos_token"] == BOS_TOKEN
    assert tokenizer_config["chat_template"] == DEFAULT_CHAT_TEMPLATE
    special = read_json(base / "special_tokens_map.json")
    assert special["eos_token"]["content"] == EOS_TOKEN


@pytest.mark.parametrize("location", get_args(TemplateLocation))
def test_template_location(location: TemplateLocation, tmp_path: Path) -> None:
    make_base(tmp_path, BaseSpec(arch="llama", template_location=location))
    in_config = read_json(tmp_path / "tokenizer_config.json").get("chat_template")
    jinja = tmp_path / "chat_template.jinja"
    json_file = tmp_path / "chat_template.json"
    assert (in_config == DEFAULT_CHAT_TEMPLATE) is (location == "tokenizer_config")
    assert jinja.exists() is (location == "jinja")
    assert json_file.exists() is (location == "json")
    if location == "jinja":
        assert jinja.read_text(encoding="utf-8") == DEFAULT_CHAT_TEMPLATE
    if location == "json":
        assert read_json(json_file) == {"chat_template": DEFAULT_CHAT_TEMPLATE}


def render(template: str) -> str:
    messages = [{"role": "user", "content": "Where is my refund?"}]
    env = jinja2.Environment(autoescape=False)
    return env.from_string(template).render(
        messages=messages, bos_token=BOS_TOKEN, add_generation_prompt=True
    )


def test_drifted_template_renders_differently() -> None:
    default = render(DEFAULT_CHAT_TEMPLATE)
    assert default == (
        f"{BOS_TOKEN}<|im_start|>user\nWhere is my refund?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render(DRIFTED_CHAT_TEMPLATE) != default


def test_template_drift_base_shares_weights_and_tokenizer(examples_dir: Path) -> None:
    r1 = tree(examples_dir / "bases" / "tiny-llama-r1")
    drift = tree(examples_dir / "bases" / "tiny-llama-r2-template-drift")
    wide = tree(examples_dir / "bases" / "tiny-llama-wide")
    assert set(r1) == set(drift)
    assert [name for name in r1 if r1[name] != drift[name]] == ["tokenizer_config.json"]
    assert wide["model.safetensors"] != r1["model.safetensors"]
    assert wide["tokenizer.json"] == r1["tokenizer.json"]


def test_base_sizes_stay_small(examples_dir: Path) -> None:
    weights = examples_dir / "bases" / "tiny-llama-r1" / "model.safetensors"
    assert 800_000 < weights.stat().st_size < 900_000
    total = sum(p.stat().st_size for p in examples_dir.rglob("*") if p.is_file())
    assert total < 4_000_000


# --- adapters ------------------------------------------------------------------------------


def expected_adapter_shapes(base: BaseSpec, spec: AdapterSpec) -> dict[str, tuple[int, ...]]:
    shapes = module_shapes(base)
    expected: dict[str, tuple[int, ...]] = {}
    for layer in range(base.num_layers):
        for module in spec.target_modules:
            out_features, in_features = shapes[module]
            prefix = f"base_model.model.{module_path(module, layer)}"
            expected[f"{prefix}.lora_A.weight"] = (spec.rank, in_features)
            expected[f"{prefix}.lora_B.weight"] = (out_features, spec.rank)
            if spec.use_dora:
                expected[f"{prefix}.lora_magnitude_vector"] = (out_features,)
    return expected


@pytest.mark.parametrize("name", sorted(EXAMPLE_ADAPTERS))
def test_example_adapter_matches_its_base(name: str, examples_dir: Path) -> None:
    base, spec, _ = EXAMPLE_ADAPTERS[name]
    adapter = examples_dir / "adapters" / name
    shapes = tensor_shapes(adapter / "adapter_model.safetensors")
    assert shapes == expected_adapter_shapes(base, spec) == adapter_keys(base, spec)
    config = read_json(adapter / "adapter_config.json")
    assert config["peft_type"] == "LORA"
    assert config["task_type"] == "CAUSAL_LM"
    assert config["r"] == spec.rank
    assert config["lora_alpha"] == spec.alpha
    assert config["target_modules"] == sorted(spec.target_modules)
    assert config["use_dora"] is spec.use_dora
    assert config["base_model_name_or_path"] == spec.base_model_name_or_path
    for field in ("bias", "use_rslora", "modules_to_save", "inference_mode", "fan_in_fan_out"):
        assert field in config
    assert config["inference_mode"] is True
    assert list(config) == sorted(config)


def test_wrong_base_adapter_has_same_keys_other_shapes(examples_dir: Path) -> None:
    adapters = examples_dir / "adapters"
    right = tensor_shapes(adapters / "support-bot-1.0.0" / "adapter_model.safetensors")
    wrong = tensor_shapes(adapters / "support-bot-wrong-base" / "adapter_model.safetensors")
    assert set(right) == set(wrong)
    assert right != wrong
    r1 = EXAMPLE_BASES["tiny-llama-r1"][0]
    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    assert right[key][1] == module_shapes(r1)["q_proj"][1]
    assert wrong[key][1] != module_shapes(r1)["q_proj"][1]


def test_example_adapters_differ(examples_dir: Path) -> None:
    adapters = examples_dir / "adapters"
    blobs = [
        (adapters / name / "adapter_model.safetensors").read_bytes() for name in EXAMPLE_ADAPTERS
    ]
    assert len(set(blobs)) == len(blobs)


def test_modules_to_save_and_biases_use_peft_saved_names(tmp_path: Path) -> None:
    base = BaseSpec(arch="qwen2")
    spec = AdapterSpec(bias="all", lora_bias=True, modules_to_save=("lm_head",), use_rslora=True)
    make_adapter(tmp_path, base, spec)
    shapes = tensor_shapes(tmp_path / "adapter_model.safetensors")
    layer0 = "base_model.model.model.layers.0.self_attn"
    assert shapes["base_model.model.lm_head.weight"] == (512, 128)
    assert shapes[f"{layer0}.q_proj.base_layer.bias"] == (128,)
    assert shapes[f"{layer0}.k_proj.bias"] == (64,)
    assert shapes[f"{layer0}.v_proj.lora_B.bias"] == (64,)
    assert not any(".default" in key or "modules_to_save" in key for key in shapes)
    config = read_json(tmp_path / "adapter_config.json")
    assert config["modules_to_save"] == ["lm_head"]
    assert config["bias"] == "all"
    assert config["lora_bias"] is True
    assert config["use_rslora"] is True


def test_unknown_target_module_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown target modules"):
        make_adapter(tmp_path, BaseSpec(arch="llama"), AdapterSpec(target_modules=("qkv_proj",)))
