"""Tokenizer digests and behavioural comparison, on real BPE tokenizers trained here."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from adapterctl.inspect.tokenizer import (
    PROBE_TEXT,
    Difference,
    TokenizerError,
    compare_tokenizers,
    tokenizer_digest,
    tokenizer_files,
)

CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Hello tokenizer, hello adapter.",
    "def main(): return 42  # the answer",
    "Café crème brûlée, naïve façade.",
    "日本語のテキスト、中文文本。",
    "Numbers 0123456789 and 3.14159 and 2024-01-02.",
    "emoji 🙂🚀 and tabs\tand  spaces",
)
SPECIALS = (
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
)
TEMPLATE = (
    "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
)
CONFIG: dict[str, Any] = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
    "clean_up_tokenization_spaces": True,
    "model_max_length": 131072,
    "model_input_names": ["input_ids", "attention_mask"],
    "added_tokens_decoder": {
        str(index): {"content": token, "normalized": False, "special": True}
        for index, token in enumerate(SPECIALS)
    },
    "chat_template": TEMPLATE,
}


def train() -> Tokenizer:
    """A byte-level BPE like Llama 3's, trained deterministically on CORPUS."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 3, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)]
    )
    return tokenizer


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    """tokenizer.json of the trained tokenizer, parsed."""
    data: dict[str, Any] = json.loads(train().to_str())
    return data


def write_model(
    directory: Path,
    tokenizer: dict[str, Any],
    config: dict[str, Any] | None = None,
    *,
    indent: int | None = None,
) -> Path:
    """A model directory holding tokenizer.json and tokenizer_config.json."""
    directory.mkdir()
    files = {"tokenizer.json": tokenizer, "tokenizer_config.json": config or CONFIG}
    for name, value in files.items():
        text = json.dumps(value, indent=indent, ensure_ascii=indent is None)
        (directory / name).write_text(text, "utf-8")
    return directory


def token_id(tokenizer: dict[str, Any], token: str) -> int:
    """The id of ``token`` in a parsed tokenizer.json."""
    value = Tokenizer.from_str(json.dumps(tokenizer)).token_to_id(token)
    assert value is not None
    return value


def reversed_keys(value: Any) -> Any:
    """``value`` with the keys of every object in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_same_files_same_digest(tmp_path: Path, trained: dict[str, Any]) -> None:
    first = write_model(tmp_path / "a", trained)
    second = write_model(tmp_path / "b", trained)
    digest = tokenizer_digest(first)
    assert digest.startswith("sha256:")
    assert len(digest) == len("sha256:") + 64
    assert tokenizer_digest(second) == digest
    assert compare_tokenizers(first, second) is None


def test_json_formatting_and_key_order_do_not_count(
    tmp_path: Path, trained: dict[str, Any]
) -> None:
    plain = write_model(tmp_path / "a", trained)
    pretty = write_model(tmp_path / "b", reversed_keys(trained), reversed_keys(CONFIG), indent=2)
    assert (plain / "tokenizer.json").read_bytes() != (pretty / "tokenizer.json").read_bytes()
    assert tokenizer_digest(pretty) == tokenizer_digest(plain)


@pytest.mark.parametrize(
    "change",
    [
        {"model_max_length": 8192},
        {"name_or_path": "/home/someone/llama"},
        {"chat_template": "{{ messages }}"},
        {"padding_side": "left"},
        {"transformers_version": "4.99.0"},
    ],
)
def test_cosmetic_keys_do_not_count(
    tmp_path: Path, trained: dict[str, Any], change: dict[str, Any]
) -> None:
    base = write_model(tmp_path / "a", trained)
    changed = write_model(tmp_path / "b", trained, CONFIG | change)
    assert tokenizer_digest(changed) == tokenizer_digest(base)


@pytest.mark.parametrize(
    "change",
    [
        {"add_bos_token": False},
        {"eos_token": "<|end_of_text|>"},
        {"clean_up_tokenization_spaces": False},
        {"tokenizer_class": "LlamaTokenizerFast"},
        {"some_future_setting": True},
    ],
)
def test_encoding_keys_count(
    tmp_path: Path, trained: dict[str, Any], change: dict[str, Any]
) -> None:
    base = write_model(tmp_path / "a", trained)
    changed = write_model(tmp_path / "b", trained, CONFIG | change)
    assert tokenizer_digest(changed) != tokenizer_digest(base)


def test_optional_files_count_and_missing_means_empty(
    tmp_path: Path, trained: dict[str, Any]
) -> None:
    base = write_model(tmp_path / "a", trained)
    digest = tokenizer_digest(base)
    (base / "added_tokens.json").write_text("{}", "utf-8")
    assert tokenizer_digest(base) == digest
    (base / "special_tokens_map.json").write_text('{"pad_token": "<|eot_id|>"}', "utf-8")
    assert tokenizer_digest(base) != digest


def test_removed_merge_is_reported_at_the_first_token(
    tmp_path: Path, trained: dict[str, Any]
) -> None:
    changed = copy.deepcopy(trained)
    changed["model"]["merges"].remove(["He", "llo"])
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", changed)
    assert tokenizer_digest(actual) != tokenizer_digest(expected)
    assert compare_tokenizers(expected, actual) == Difference(
        what="token",
        index=1,
        expected=f"{token_id(trained, 'Hello')} 'Hello'",
        actual=f"{token_id(trained, 'He')} 'He'",
        context="Hello, world! The quick brown fox j",
    )


def test_renumbered_vocabulary_is_reported(tmp_path: Path, trained: dict[str, Any]) -> None:
    changed = copy.deepcopy(trained)
    vocab = changed["model"]["vocab"]
    vocab["Hello"], vocab["He"] = vocab["He"], vocab["Hello"]
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", changed)
    assert tokenizer_digest(actual) != tokenizer_digest(expected)
    assert compare_tokenizers(expected, actual) == Difference(
        what="token",
        index=1,
        expected=f"{token_id(trained, 'Hello')} 'Hello'",
        actual=f"{token_id(trained, 'He')} 'Hello'",
        context="Hello, world! The quick brown fox j",
    )


def test_vocabulary_entry_the_probe_misses_is_reported(
    tmp_path: Path, trained: dict[str, Any]
) -> None:
    changed = copy.deepcopy(trained)
    changed["model"]["vocab"]["zzqx"] = 400
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", changed)
    assert compare_tokenizers(expected, actual) == Difference(
        what="vocabulary",
        index=400,
        expected="(no token)",
        actual="'zzqx'",
        context="token id 400",
    )


def test_added_special_token_is_reported(tmp_path: Path, trained: dict[str, Any]) -> None:
    tokenizer = Tokenizer.from_str(json.dumps(trained))
    tokenizer.add_special_tokens(["<|tool_call|>"])
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", json.loads(tokenizer.to_str()))
    assert tokenizer_digest(actual) != tokenizer_digest(expected)
    difference = compare_tokenizers(expected, actual)
    assert difference is not None
    assert difference.what == "token"
    assert difference.expected == f"{token_id(trained, '<')} '<'"
    assert difference.actual == "400 '<|tool_call|>'"
    assert "<|tool_call|>" in difference.context


def test_added_token_from_the_config_counts(tmp_path: Path, trained: dict[str, Any]) -> None:
    decoder = CONFIG["added_tokens_decoder"] | {
        "400": {"content": "<|tool_call|>", "normalized": False, "special": True}
    }
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", trained, CONFIG | {"added_tokens_decoder": decoder})
    assert tokenizer_digest(actual) != tokenizer_digest(expected)
    difference = compare_tokenizers(expected, actual)
    assert difference is not None
    assert difference.actual == "400 '<|tool_call|>'"


def test_add_bos_token_in_the_config_is_applied(tmp_path: Path, trained: dict[str, Any]) -> None:
    expected = write_model(tmp_path / "a", trained)
    actual = write_model(tmp_path / "b", trained, CONFIG | {"add_bos_token": False})
    assert compare_tokenizers(expected, actual) == Difference(
        what="token",
        index=0,
        expected="0 '<|begin_of_text|>'",
        actual=f"{token_id(trained, 'Hello')} 'Hello'",
        context=PROBE_TEXT[:30],
    )
    explicit = write_model(tmp_path / "c", trained, CONFIG | {"add_bos_token": True})
    assert compare_tokenizers(expected, explicit) is None


def test_probe_text_covers_many_scripts() -> None:
    for sample in ("é", "日本", "한국어", "🙂", "\t\t", "   ", "42", "def ", "<|eot_id|>", "</s>"):
        assert sample in PROBE_TEXT


def test_missing_tokenizer_json(tmp_path: Path, trained: dict[str, Any]) -> None:
    message = f"{tmp_path}: no tokenizer.json (only fast tokenizers are supported)"
    with pytest.raises(TokenizerError) as info:
        tokenizer_digest(tmp_path)
    assert info.value.message == message
    other = write_model(tmp_path / "a", trained)
    with pytest.raises(TokenizerError) as info:
        compare_tokenizers(other, tmp_path)
    assert info.value.message == message


def test_broken_json_is_an_input_error(tmp_path: Path, trained: dict[str, Any]) -> None:
    model = write_model(tmp_path / "a", trained)
    (model / "tokenizer_config.json").write_text("{not json", "utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer_config\.json: not JSON"):
        tokenizer_digest(model)
    (model / "tokenizer_config.json").write_text("[]", "utf-8")
    with pytest.raises(TokenizerError, match="expected a JSON object"):
        tokenizer_digest(model)


def test_tokenizer_files(tmp_path: Path, trained: dict[str, Any]) -> None:
    model = write_model(tmp_path / "a", trained)
    for name in (
        "chat_template.jinja",
        "special_tokens_map.json",
        "config.json",
        "tokenizer.model",
    ):
        (model / name).write_text("{}", "utf-8")
    assert tokenizer_files(model) == [
        "chat_template.jinja",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
