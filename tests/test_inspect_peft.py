"""adapter_config.json reading and PEFT tensor names, with exact messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from safetensors.numpy import save_file

from adapterctl.errors import InputError
from adapterctl.inspect.peft import (
    CONFIG_FILE,
    LoraKey,
    PeftConfigError,
    classify_lora_key,
    parse_lora_key,
    read_peft_config,
)
from adapterctl.inspect.safetensors import read_header_file

# What PEFT 0.15's LoraConfig.save_pretrained writes (abridged to a realistic subset).
PEFT_SAVED: dict[str, object] = {
    "alpha_pattern": {},
    "auto_mapping": None,
    "base_model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct",
    "bias": "none",
    "fan_in_fan_out": False,
    "inference_mode": True,
    "init_lora_weights": True,
    "layers_to_transform": None,
    "lora_alpha": 32,
    "lora_bias": False,
    "lora_dropout": 0.05,
    "modules_to_save": None,
    "peft_type": "LORA",
    "r": 16,
    "rank_pattern": {},
    "revision": None,
    "target_modules": ["v_proj", "q_proj"],
    "task_type": "CAUSAL_LM",
    "trainable_token_indices": None,
    "use_dora": False,
    "use_rslora": False,
}


def _write(tmp_path: Path, config: object) -> Path:
    path = tmp_path / CONFIG_FILE
    path.write_text(json.dumps(config, indent=2), "utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(PeftConfigError) as info:
        read_peft_config(path)
    assert isinstance(info.value, InputError)
    return info.value.message


def test_a_peft_saved_config(tmp_path: Path) -> None:
    path = _write(tmp_path, PEFT_SAVED)
    config = read_peft_config(path)
    assert config.peft_type == "LORA"
    assert config.rank == 16
    assert config.alpha == 32.0
    assert isinstance(config.alpha, float)
    assert config.target_modules == ("v_proj", "q_proj")
    assert (config.use_rslora, config.use_dora, config.bias) == (False, False, "none")
    assert config.modules_to_save is None
    assert config.base_model_name_or_path == "meta-llama/Llama-3.1-8B-Instruct"
    assert config.trainable_token_indices is None
    assert config.raw == PEFT_SAVED
    assert read_peft_config(tmp_path) == config  # the adapter directory works too


def test_defaults_are_peft_defaults(tmp_path: Path) -> None:
    minimal = {"peft_type": "LORA", "r": 8, "lora_alpha": 16.5, "target_modules": "all-linear"}
    config = read_peft_config(_write(tmp_path, minimal))
    assert config.alpha == 16.5
    assert config.target_modules == "all-linear"
    assert (config.use_rslora, config.use_dora, config.bias) == (False, False, "none")
    assert config.modules_to_save is None
    assert config.base_model_name_or_path is None
    assert config.raw == minimal


def test_optional_fields_when_set(tmp_path: Path) -> None:
    config = read_peft_config(
        _write(
            tmp_path,
            PEFT_SAVED
            | {
                "target_modules": r".*\.(q|v)_proj",
                "use_rslora": True,
                "use_dora": True,
                "bias": "lora_only",
                "modules_to_save": ["lm_head", "embed_tokens"],
                "trainable_token_indices": {"embed_tokens": [128000, 128001]},
            },
        )
    )
    assert config.target_modules == r".*\.(q|v)_proj"
    assert (config.use_rslora, config.use_dora, config.bias) == (True, True, "lora_only")
    assert config.modules_to_save == ("lm_head", "embed_tokens")
    assert config.trainable_token_indices == {"embed_tokens": (128000, 128001)}
    listed = _write(tmp_path, PEFT_SAVED | {"trainable_token_indices": [5, 6]})
    assert read_peft_config(listed).trainable_token_indices == (5, 6)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE
    assert _error(path) == f"{path}: missing: a PEFT adapter needs adapter_config.json"
    assert _error(tmp_path) == f"{path}: missing: a PEFT adapter needs adapter_config.json"


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE
    path.write_text('{\n  "r": 8,\n  "lora_alpha": ,\n}\n', "utf-8")
    assert _error(path) == f"{path}:3:17: not JSON: Expecting value"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE
    path.write_bytes(b'{"r": "\xff"}')
    assert _error(path) == f"{path}: not UTF-8: byte 0xff at offset 7"


def test_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE
    with path.open("wb") as file:
        file.truncate(10_000_001)
    assert _error(path) == (
        f"{path}: 10000001 bytes, too large for an adapter config (limit 10000000)"
    )


INVALID: list[tuple[str, object, str]] = [
    ("array", [PEFT_SAVED], "expected a JSON object, got an array"),
    ("no-peft-type", {"peft_type": None}, """missing 'peft_type' (expected "LORA")"""),
    ("ia3", {"peft_type": "IA3"}, 'peft_type is "IA3", only LORA adapters are supported'),
    ("lowercase", {"peft_type": "lora"}, 'peft_type is "lora", only LORA adapters are supported'),
    ("no-r", {"r": None}, "missing 'r' (the LoRA rank)"),
    ("r-zero", {"r": 0}, "'r' must be a positive integer, got 0"),
    ("r-float", {"r": 8.0}, "'r' must be a positive integer, got 8.0"),
    ("r-string", {"r": "8"}, """'r' must be a positive integer, got "8\""""),
    ("r-bool", {"r": True}, "'r' must be a positive integer, got true"),
    ("no-alpha", {"lora_alpha": None}, "missing 'lora_alpha' (the LoRA scaling numerator)"),
    ("alpha-string", {"lora_alpha": "16"}, """'lora_alpha' must be a positive number, got "16\""""),
    ("alpha-zero", {"lora_alpha": 0}, "'lora_alpha' must be a positive number, got 0"),
    ("alpha-nan", {"lora_alpha": float("nan")}, "'lora_alpha' must be a positive number, got NaN"),
    ("alpha-bool", {"lora_alpha": False}, "'lora_alpha' must be a positive number, got false"),
    (
        "no-targets",
        {"target_modules": None},
        "missing 'target_modules' (the modules the adapter applies to)",
    ),
    ("targets-empty", {"target_modules": []}, "'target_modules' is empty"),
    ("targets-empty-str", {"target_modules": ""}, "'target_modules' is empty"),
    (
        "targets-int",
        {"target_modules": 3},
        "'target_modules' must be a list of module names or a regular expression, got 3",
    ),
    (
        "targets-mixed",
        {"target_modules": ["q_proj", 1]},
        "'target_modules' must be a list of module names or a regular expression, "
        'got ["q_proj", 1]',
    ),
    (
        "targets-bad-regex",
        {"target_modules": "q_proj("},
        "'target_modules' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 6",
    ),
    ("dora-string", {"use_dora": "false"}, """'use_dora' must be true or false, got "false\""""),
    ("rslora-int", {"use_rslora": 1}, "'use_rslora' must be true or false, got 1"),
    (
        "bias",
        {"bias": "some"},
        """'bias' is "some", expected one of "none", "all", "lora_only\"""",
    ),
    (
        "modules-to-save",
        {"modules_to_save": "lm_head"},
        """'modules_to_save' must be a list of module names or null, got "lm_head\"""",
    ),
    (
        "base-name",
        {"base_model_name_or_path": 7},
        "'base_model_name_or_path' must be a string or null, got 7",
    ),
    (
        "trainable-tokens",
        {"trainable_token_indices": {"embed_tokens": [-1]}},
        "'trainable_token_indices' must be a list of token ids or an object of "
        """module name → token ids, got {"embed_tokens": [-1]}""",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [(change, message) for _, change, message in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_configs_have_exact_messages(tmp_path: Path, change: object, message: str) -> None:
    config = PEFT_SAVED | change if isinstance(change, dict) else change
    path = _write(tmp_path, config)
    assert _error(path) == f"{path}: {message}"


PREFIX = "base_model.model.model.layers.0.self_attn"

KEYS: list[tuple[str, LoraKey | None]] = [
    (f"{PREFIX}.q_proj.lora_A.weight", LoraKey("model.layers.0.self_attn.q_proj", "lora_A")),
    (f"{PREFIX}.q_proj.lora_B.weight", LoraKey("model.layers.0.self_attn.q_proj", "lora_B")),
    (f"{PREFIX}.q_proj.lora_B.bias", LoraKey("model.layers.0.self_attn.q_proj", "lora_B_bias")),
    (
        f"{PREFIX}.q_proj.lora_magnitude_vector",
        LoraKey("model.layers.0.self_attn.q_proj", "dora_magnitude"),
    ),
    (
        f"{PREFIX}.q_proj.lora_magnitude_vector.weight",
        LoraKey("model.layers.0.self_attn.q_proj", "dora_magnitude"),
    ),
    (
        "base_model.model.model.embed_tokens.lora_embedding_A",
        LoraKey("model.embed_tokens", "lora_embedding_A"),
    ),
    (
        "base_model.model.model.embed_tokens.lora_embedding_B",
        LoraKey("model.embed_tokens", "lora_embedding_B"),
    ),
    (
        "base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta",
        LoraKey("model.embed_tokens", "trainable_tokens"),
    ),
    (f"{PREFIX}.q_proj.base_layer.bias", LoraKey("model.layers.0.self_attn.q_proj", "bias")),
    (f"{PREFIX}.q_proj.bias", LoraKey("model.layers.0.self_attn.q_proj", "bias")),
    ("base_model.model.lm_head.weight", LoraKey("lm_head", "weight")),
    (
        f"{PREFIX}.q_proj.lora_A.default.weight",
        LoraKey("model.layers.0.self_attn.q_proj.lora_A.default.weight", "other"),
    ),
    ("base_model.model.lora_A.weight", LoraKey("lora_A.weight", "other")),
    ("base_model.model.", LoraKey("", "other")),
    ("model.layers.0.self_attn.q_proj.lora_A.weight", None),
    ("q_proj.lora_A.weight", None),
]


@pytest.mark.parametrize(("key", "expected"), KEYS, ids=[key for key, _ in KEYS])
def test_classify_lora_key(key: str, expected: LoraKey | None) -> None:
    assert classify_lora_key(key) == expected
    pair = parse_lora_key(key)
    if expected is not None and expected.kind in ("lora_A", "lora_B"):
        assert pair == (expected.module, expected.kind)
    else:
        assert pair is None


def test_keys_of_a_real_adapter_file(tmp_path: Path) -> None:
    tensors: dict[str, npt.NDArray[np.float32]] = {
        f"base_model.model.model.layers.{layer}.self_attn.{proj}.lora_{ab}.weight": np.zeros(
            (4, 32) if ab == "A" else (32, 4), np.float32
        )
        for layer in range(2)
        for proj in ("q_proj", "v_proj")
        for ab in ("A", "B")
    }
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"] = np.ones(
        32, np.float32
    )
    path = tmp_path / "adapter_model.safetensors"
    save_file(tensors, str(path))
    header = read_header_file(path)
    pairs = {key: parse_lora_key(key) for key in header.tensors}
    unparsed = sorted(key for key, pair in pairs.items() if pair is None)
    assert unparsed == ["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"]
    modules = {pair[0] for pair in pairs.values() if pair is not None}
    assert modules == {
        f"model.layers.{layer}.self_attn.{proj}"
        for layer in range(2)
        for proj in ("q_proj", "v_proj")
    }
    for key, pair in pairs.items():
        if pair is not None:
            rank_axis = 0 if pair[1] == "lora_A" else 1
            assert header.tensors[key].shape[rank_axis] == 4
