"""Reading a PEFT LoRA adapter: ``adapter_config.json`` and the names of its tensors.

Only the fields the compatibility gate and vLLM care about are read and checked; the
whole document is kept as ``raw``. Defaults are those of PEFT's ``LoraConfig``, except
that ``r`` and ``lora_alpha`` are required (PEFT always writes them, and vLLM refuses a
config without them).

PEFT saves tensors without the adapter name, e.g.
``base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adapterctl.errors import InputError
from adapterctl.inspect.jsonkeys import DuplicateKeyError, unique_keys
from adapterctl.model.common import regex_problem

CONFIG_FILE = "adapter_config.json"
MAX_CONFIG_BYTES = 10_000_000
"""A larger adapter_config.json is not a PEFT config; refuse it before reading."""
BIASES = ("none", "all", "lora_only")
KEY_PREFIX = "base_model.model."

KeyKind = Literal[
    "lora_A",
    "lora_B",
    "lora_B_bias",
    "dora_magnitude",
    "lora_embedding_A",
    "lora_embedding_B",
    "trainable_tokens",
    "bias",
    "weight",
    "other",
]
"""What a saved tensor is: the LoRA pair, a variant's tensor, or a full module tensor."""

_SUFFIXES: tuple[tuple[str, KeyKind], ...] = (
    (".lora_A.weight", "lora_A"),
    (".lora_B.weight", "lora_B"),
    (".lora_B.bias", "lora_B_bias"),
    (".lora_magnitude_vector.weight", "dora_magnitude"),
    (".lora_magnitude_vector", "dora_magnitude"),
    (".lora_embedding_A.weight", "lora_embedding_A"),
    (".lora_embedding_A", "lora_embedding_A"),
    (".lora_embedding_B.weight", "lora_embedding_B"),
    (".lora_embedding_B", "lora_embedding_B"),
    (".token_adapter.trainable_tokens_delta", "trainable_tokens"),
    (".trainable_tokens_delta", "trainable_tokens"),
    (".base_layer.bias", "bias"),
    (".bias", "bias"),
    (".weight", "weight"),
)


class PeftConfigError(InputError):
    """An adapter_config.json that is not a usable PEFT LoRA config."""


@dataclass(frozen=True, slots=True)
class PeftConfig:
    """The LoRA fields of adapter_config.json, checked, with the whole document as ``raw``."""

    peft_type: str
    rank: int
    alpha: float
    target_modules: tuple[str, ...] | str
    """Module names, or one regular expression PEFT full-matches against module paths."""
    use_rslora: bool
    use_dora: bool
    bias: str
    modules_to_save: tuple[str, ...] | None
    base_model_name_or_path: str | None
    trainable_token_indices: object | None
    """PEFT ≥ 0.15: token ids (a tuple) or module → token ids (a dict of tuples)."""
    raw: dict[str, object]


@dataclass(frozen=True, slots=True)
class LoraKey:
    """A saved tensor name split into the module it belongs to and what it is."""

    module: str
    kind: KeyKind


def read_peft_config(path: Path) -> PeftConfig:
    """Read ``path`` (adapter_config.json, or the adapter directory holding it)."""
    file = path / CONFIG_FILE if path.is_dir() else path
    return _build(file, _load(file))


def parse_peft_config(raw: bytes, name: str) -> PeftConfig:
    """Parse adapter_config.json bytes read from elsewhere (a store); ``name`` is shown."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise PeftConfigError(f"{name}: too large for an adapter config (limit {MAX_CONFIG_BYTES})")
    return _build(Path(name), _parse(Path(name), raw))


def _build(file: Path, config: dict[str, object]) -> PeftConfig:
    fields = _Fields(file, config)
    return PeftConfig(
        peft_type=fields.peft_type(),
        rank=fields.rank(),
        alpha=fields.alpha(),
        target_modules=fields.target_modules(),
        use_rslora=fields.flag("use_rslora"),
        use_dora=fields.flag("use_dora"),
        bias=fields.bias(),
        modules_to_save=fields.modules_to_save(),
        base_model_name_or_path=fields.optional_str("base_model_name_or_path"),
        trainable_token_indices=fields.trainable_token_indices(),
        raw=config,
    )


def _load(file: Path) -> dict[str, object]:
    try:
        size = file.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise PeftConfigError(
                f"{file}: {size} bytes, too large for an adapter config (limit {MAX_CONFIG_BYTES})"
            )
        raw = file.read_bytes()
    except FileNotFoundError:
        raise PeftConfigError(f"{file}: missing: a PEFT adapter needs {CONFIG_FILE}") from None
    except OSError as exc:
        raise PeftConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
    return _parse(file, raw)


def _parse(file: Path, raw: bytes) -> dict[str, object]:
    try:
        config = json.loads(raw.decode("utf-8"), object_pairs_hook=unique_keys)
    except DuplicateKeyError as exc:
        raise PeftConfigError(
            f"{file}: not valid: the key '{exc}' appears twice in one object "
            "(JSON parsers disagree on which value wins)"
        ) from None
    except UnicodeDecodeError as exc:
        raise PeftConfigError(
            f"{file}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        ) from None
    except json.JSONDecodeError as exc:
        raise PeftConfigError(f"{file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise PeftConfigError(f"{file}: not JSON: nested too deeply") from None
    except ValueError as exc:
        raise PeftConfigError(f"{file}: not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise PeftConfigError(f"{file}: expected a JSON object, got {_kind(config)}")
    return config


class _Fields:
    """Checked access to the fields of one config; each error names the file and field."""

    def __init__(self, file: Path, config: dict[str, object]) -> None:
        self._file = file
        self._config = config

    def _error(self, message: str) -> PeftConfigError:
        return PeftConfigError(f"{self._file}: {message}")

    def _required(self, key: str, what: str) -> object:
        value = self._config.get(key)
        if value is None:
            raise self._error(f"missing '{key}' ({what})")
        return value

    def peft_type(self) -> str:
        """``peft_type``, which must be LORA."""
        value = self._required("peft_type", 'expected "LORA"')
        if value != "LORA":
            raise self._error(f"peft_type is {_json(value)}, only LORA adapters are supported")
        return "LORA"

    def rank(self) -> int:
        """``r``, a positive integer."""
        value = self._required("r", "the LoRA rank")
        if type(value) is not int or value < 1:
            raise self._error(f"'r' must be a positive integer, got {_json(value)}")
        return value

    def alpha(self) -> float:
        """``lora_alpha``, a positive finite number."""
        value = self._required("lora_alpha", "the LoRA scaling numerator")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value < math.inf
        ):
            raise self._error(f"'lora_alpha' must be a positive number, got {_json(value)}")
        return float(value)

    def target_modules(self) -> tuple[str, ...] | str:
        """``target_modules``: a non-empty list of names, or a valid regular expression."""
        value = self._required("target_modules", "the modules the adapter applies to")
        if value in ("", []):
            raise self._error("'target_modules' is empty")
        if isinstance(value, str):
            problem = regex_problem(value)
            if problem is not None:
                raise self._error(f"'target_modules' is not a valid regular expression: {problem}")
            return value
        names = _names(value)
        if names is None:
            raise self._error(
                "'target_modules' must be a list of module names or a regular expression, "
                f"got {_json(value)}"
            )
        return names

    def flag(self, key: str) -> bool:
        """An optional boolean, False when absent or null."""
        value = self._config.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._error(f"'{key}' must be true or false, got {_json(value)}")
        return value

    def bias(self) -> str:
        """``bias``: none (the default), all or lora_only."""
        value = self._config.get("bias")
        if value is None:
            return "none"
        if value not in BIASES:
            expected = ", ".join(f'"{bias}"' for bias in BIASES)
            raise self._error(f"'bias' is {_json(value)}, expected one of {expected}")
        return str(value)

    def modules_to_save(self) -> tuple[str, ...] | None:
        """``modules_to_save``: null or a list of module names."""
        value = self._config.get("modules_to_save")
        if value is None:
            return None
        names = _names(value)
        if names is None:
            raise self._error(
                f"'modules_to_save' must be a list of module names or null, got {_json(value)}"
            )
        return names

    def optional_str(self, key: str) -> str | None:
        """An optional string field."""
        value = self._config.get(key)
        if value is not None and not isinstance(value, str):
            raise self._error(f"'{key}' must be a string or null, got {_json(value)}")
        return value

    def trainable_token_indices(self) -> object | None:
        """Token ids, or an object of module name → token ids; null when absent."""
        value = self._config.get("trainable_token_indices")
        if value is None:
            return None
        if isinstance(value, dict):
            ids = {str(key): _token_ids(item) for key, item in value.items()}
            if all(item is not None for item in ids.values()):
                return ids
        elif (tokens := _token_ids(value)) is not None:
            return tokens
        raise self._error(
            "'trainable_token_indices' must be a list of token ids or an object of "
            f"module name → token ids, got {_json(value)}"
        )


def _names(value: object) -> tuple[str, ...] | None:
    """``value`` as a tuple of non-empty strings, or None if it is not a list of them."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return tuple(value)


def _token_ids(value: object) -> tuple[int, ...] | None:
    if not isinstance(value, list) or not all(type(v) is int and v >= 0 for v in value):
        return None
    return tuple(value)


def classify_lora_key(key: str) -> LoraKey | None:
    """Split a saved PEFT tensor name; None when it is not under ``base_model.model.``.

    Names with a LoRA part that is not one PEFT saves (``lora_A.default.weight``, say)
    are ``"other"``, never a module ``weight``.
    """
    if not key.startswith(KEY_PREFIX):
        return None
    rest = key.removeprefix(KEY_PREFIX)
    for suffix, kind in _SUFFIXES:
        module = rest.removesuffix(suffix)
        if module != rest and module:
            if kind in ("bias", "weight") and _has_lora_part(module):
                break
            return LoraKey(module=module, kind=kind)
    return LoraKey(module=rest, kind="other")


def parse_lora_key(key: str) -> tuple[str, str] | None:
    """``(module, "lora_A" | "lora_B")`` for a saved LoRA matrix; None for anything else.

    DoRA magnitude vectors, LoRA embeddings, biases and full module weights are None too:
    use :func:`classify_lora_key` to tell them apart and report them.
    """
    parsed = classify_lora_key(key)
    if parsed is None or parsed.kind not in ("lora_A", "lora_B"):
        return None
    return parsed.module, parsed.kind


def _has_lora_part(module: str) -> bool:
    return any(part.startswith("lora_") for part in module.split("."))


def _json(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), "null" if value is None else "a boolean")
