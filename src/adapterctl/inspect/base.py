"""Reading a base model directory: identity, fingerprints and the module shape table.

Only metadata is read: ``config.json``, the tokenizer files, the chat template and the
safetensors headers of every weight shard (never tensor data), so a multi-GB base is
fingerprinted in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError
from adapterctl.fsutil import canonical_json_digest, read_json_object
from adapterctl.inspect.chat_template import chat_template_digest, find_chat_template
from adapterctl.inspect.safetensors import read_header_file
from adapterctl.inspect.tokenizer import tokenizer_digest, tokenizer_files
from adapterctl.model.quantization import Quantization

VOLATILE_CONFIG_KEYS = ("_name_or_path", "transformers_version", "_commit_hash")
INDEX = "model.safetensors.index.json"
PICKLES = ("pytorch_model.bin", "model.pt", "model.pth", "pytorch_model.bin.index.json")
_QUANT_METHODS = {
    "gptq": "gptq",
    "awq": "awq",
    "fp8": "fp8",
    "bitsandbytes": "bitsandbytes",
    "gguf": "gguf",
    "compressed-tensors": "compressed-tensors",
}


class BaseModelError(InputError):
    """A base model directory that cannot be registered."""


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """Everything a base manifest records, read from the model directory."""

    architecture: str
    config_digest: str
    tokenizer_digest: str
    chat_template_digest: str
    quantization: Quantization
    vocab_size: int
    max_model_len: int | None
    shapes: dict[str, tuple[int, int]]
    tokenizer_files: tuple[str, ...]


def read_base(path: Path) -> BaseInfo:
    """Read the base model directory ``path``; BaseModelError says what is wrong."""
    config = _config(path)
    template = find_chat_template(path)
    return BaseInfo(
        architecture=_architecture(path, config),
        config_digest=canonical_json_digest(
            {k: v for k, v in config.items() if k not in VOLATILE_CONFIG_KEYS}
        ),
        tokenizer_digest=tokenizer_digest(path),
        chat_template_digest=chat_template_digest(template[0] if template else ""),
        quantization=_quantization(path, config),
        vocab_size=_positive_int(path, config, "vocab_size"),
        max_model_len=_optional_int(config, "max_position_embeddings"),
        shapes=shape_table(path),
        tokenizer_files=tuple(tokenizer_files(path)),
    )


def _config(path: Path) -> dict[str, object]:
    file = path / "config.json"
    config = read_json_object(file, BaseModelError)
    if config is None:
        raise BaseModelError(f"{file}: missing: a base model directory needs config.json")
    return config


def _architecture(path: Path, config: dict[str, object]) -> str:
    architectures = config.get("architectures")
    if not isinstance(architectures, list) or not architectures:
        raise BaseModelError(f"{path / 'config.json'}: no 'architectures' list")
    return str(architectures[0])


def _optional_int(config: dict[str, object], key: str) -> int | None:
    value = config.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _positive_int(path: Path, config: dict[str, object], key: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BaseModelError(f"{path / 'config.json'}: '{key}' must be a positive integer")
    return value


def _quantization(path: Path, config: dict[str, object]) -> Quantization:
    quant = config.get("quantization_config")
    if quant is None:
        return Quantization(method="none")
    if not isinstance(quant, dict):
        raise BaseModelError(f"{path / 'config.json'}: 'quantization_config' is not an object")
    method = str(quant.get("quant_method", ""))
    if method not in _QUANT_METHODS:
        known = ", ".join(sorted(_QUANT_METHODS))
        raise BaseModelError(
            f"{path / 'config.json'}: quantization method '{method}' is not one of {known}"
        )
    bits = quant.get("bits", 4 if quant.get("load_in_4bit") else None)
    group = quant.get("group_size")
    return Quantization.model_validate(
        {
            "method": _QUANT_METHODS[method],
            "bits": bits if isinstance(bits, int) else None,
            "group_size": group if isinstance(group, int) else None,
        }
    )


def weight_files(path: Path) -> list[Path]:
    """The safetensors shards of a base: ``model.safetensors`` or those of the index."""
    index = path / INDEX
    if index.is_file():
        return _shards(path, index)
    single = path / "model.safetensors"
    if single.is_file():
        return [single]
    pickles = [name for name in PICKLES if (path / name).exists()]
    if pickles:
        raise BaseModelError(
            f"{path}: only pickle weights ({', '.join(pickles)}); convert them to safetensors"
        )
    raise BaseModelError(f"{path}: no model.safetensors and no {INDEX}")


def _shards(path: Path, index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text("utf-8"))["weight_map"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BaseModelError(f"{index}: not a safetensors index ({exc})") from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise BaseModelError(f"{index}: 'weight_map' must be a non-empty object")
    shards = sorted({str(name) for name in weight_map.values()})
    for shard in shards:
        if "/" in shard or not (path / shard).is_file():
            raise BaseModelError(f"{index}: shard '{shard}' is missing")
    return [path / shard for shard in shards]


def shape_table(path: Path) -> dict[str, tuple[int, int]]:
    """Every linear module → [out_features, in_features], from the shard headers.

    A linear module is a 2-D ``<module>.weight``; embeddings (``embed``) are not linear.
    """
    shapes: dict[str, tuple[int, int]] = {}
    for shard in weight_files(path):
        for name, tensor in read_header_file(shard).tensors.items():
            module = name.removesuffix(".weight")
            if module == name or len(tensor.shape) != 2 or "embed" in module.rsplit(".", 1)[-1]:
                continue
            shapes[module] = (tensor.shape[0], tensor.shape[1])
    if not shapes:
        raise BaseModelError(f"{path}: no linear module weights found in the safetensors files")
    return dict(sorted(shapes.items()))
