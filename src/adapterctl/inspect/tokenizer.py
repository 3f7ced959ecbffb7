"""Tokenizer fingerprints, and what two tokenizers do differently.

Only fast tokenizers (``tokenizer.json``) are supported: that file is the whole encoder,
so it can be fingerprinted and run without ``transformers``.

The digest covers ``tokenizer.json``, ``special_tokens_map.json``, ``added_tokens.json``
and ``tokenizer_config.json`` minus :data:`COSMETIC_CONFIG_KEYS`. Every parsed file is
re-serialized as canonical JSON, so formatting and key order never count; a missing
optional file counts as ``{}``. Config keys are dropped only when known not to change
the ids↔text mapping; unknown keys are kept, so a new setting errs towards "different".
Kept on purpose: ``add_bos_token``/``add_eos_token``, the special tokens,
``added_tokens_decoder``, ``tokenizer_class`` (it decides how the config is applied),
``add_prefix_space``, ``legacy``, ``split_special_tokens`` (all change ids) and
``clean_up_tokenization_spaces`` (it changes the text decoded from the same ids, which is
what users of the adapter see).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tokenizers import AddedToken, Tokenizer

from adapterctl.errors import InputError
from adapterctl.fsutil import canonical_json_digest, read_json_object

TOKENIZER_JSON: Final = "tokenizer.json"
TOKENIZER_CONFIG: Final = "tokenizer_config.json"
SPECIAL_TOKENS_MAP: Final = "special_tokens_map.json"
ADDED_TOKENS: Final = "added_tokens.json"
CHAT_TEMPLATE_FILES: Final = ("chat_template.jinja", "chat_template.json")
_FINGERPRINTED: Final = (TOKENIZER_JSON, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP, ADDED_TOKENS)

COSMETIC_CONFIG_KEYS: Final = frozenset(
    (
        # Where the files came from, and which library wrote them.
        *("name_or_path", "_name_or_path", "_commit_hash", "transformers_version"),
        *("auto_map", "processor_class"),
        # Paths of the files themselves: their content is fingerprinted instead.
        *("tokenizer_file", "vocab_file", "merges_file"),
        # Fingerprinted separately (chat_template_digest).
        *("chat_template", "use_default_system_prompt"),
        # Truncation and padding of batches: the ids of one text do not change, and
        # serving engines take the context length from config.json, not from here.
        *("model_max_length", "max_length", "stride", "truncation_strategy"),
        *("truncation_side", "padding_side", "pad_to_multiple_of", "model_input_names"),
    )
)
"""Keys of tokenizer_config.json that the digest ignores (see the module docstring)."""

PROBE_TEXT: Final = (
    "Hello, world! The quick brown fox jumps over the lazy dog.\n"
    "Café crème brûlée, naïve façade, Ærøskøbing, Straße, Ελληνικά, Русский.\n"
    "日本語のテキスト、中文文本，한국어 텍스트。\n"
    "Emoji: 🙂🚀 👩‍💻 🇫🇷 ❤️\n"
    "Numbers: 0 7 42 123 4567 3.14159 1,000,000 2024-01-02 0x1F\n"
    "Whitespace:  two   three    four\ttab\t\ttabs\n\n\nnewlines   \n"
    "Code: def f(x):\n    return {'a': [x ** 2, None]}  # comment\n"
    "Specials: <s></s><unk><pad><|begin_of_text|><|end_of_text|><|eot_id|>"
    "<|start_header_id|><|end_header_id|><|im_start|><|im_end|><|endoftext|>[INST][/INST]\n"
)
"""Encoded by both tokenizers; every token added to either one is appended to it."""

_CONTEXT = 30


class TokenizerError(InputError):
    """A tokenizer that cannot be fingerprinted or loaded."""


@dataclass(frozen=True)
class Difference:
    """The first behavioural difference between an expected and an actual input.

    ``index`` is a token position (tokenizers), a token id (vocabularies) or a character
    offset (chat templates); ``context`` is the text around it.
    """

    what: str
    index: int
    expected: str
    actual: str
    context: str


def load_json_object(path: Path, error: type[InputError] = TokenizerError) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file."""
    return read_json_object(path, error)


def tokenizer_digest(model_dir: Path) -> str:
    """``sha256:<hex>`` of the canonical form of the tokenizer of ``model_dir``."""
    _require_tokenizer_json(model_dir)
    parts = {name: load_json_object(model_dir / name) or {} for name in _FINGERPRINTED}
    config = parts[TOKENIZER_CONFIG]
    parts[TOKENIZER_CONFIG] = {k: v for k, v in config.items() if k not in COSMETIC_CONFIG_KEYS}
    return canonical_json_digest(parts)


def _require_tokenizer_json(model_dir: Path) -> Path:
    path = model_dir / TOKENIZER_JSON
    if not path.is_file():
        raise TokenizerError(f"{model_dir}: no tokenizer.json (only fast tokenizers are supported)")
    return path


def tokenizer_files(model_dir: Path) -> list[str]:
    """Names of the tokenizer and chat template files present in ``model_dir``.

    Exactly the files that the two digests cover (slow-tokenizer files such as
    ``tokenizer.model`` are not), so whatever is copied is also verified.
    """
    names = (*_FINGERPRINTED, *CHAT_TEMPLATE_FILES)
    return sorted(name for name in names if (model_dir / name).is_file())


def tokenizer_config(model_dir: Path) -> dict[str, Any]:
    """``tokenizer_config.json`` of ``model_dir`` (``{}`` when absent)."""
    return load_json_object(model_dir / TOKENIZER_CONFIG) or {}


def special_token(model_dir: Path, name: str) -> str | None:
    """The text of special token ``name`` (``bos_token``…), from the config or the map."""
    for file in (TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP):
        value = (load_json_object(model_dir / file) or {}).get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            return value
    return None


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The fast tokenizer of ``model_dir`` with the config's added tokens, as transformers."""
    path = _require_tokenizer_json(model_dir)
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception for every load error
        raise TokenizerError(f"{path}: cannot be loaded: {exc}") from None
    decoder = tokenizer_config(model_dir).get("added_tokens_decoder")
    for entry in decoder.values() if isinstance(decoder, dict) else ():
        content = entry.get("content") if isinstance(entry, dict) else None
        if isinstance(content, str) and tokenizer.token_to_id(content) is None:
            tokenizer.add_tokens([_added_token(content, entry)])
    return tokenizer


def _added_token(content: str, entry: dict[str, Any]) -> AddedToken:
    flags = ("single_word", "lstrip", "rstrip", "normalized", "special")
    options = {flag: bool(entry[flag]) for flag in flags if flag in entry}
    return AddedToken(content, **options)


@dataclass
class _Encoded:
    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]


def _encode(model_dir: Path, tokenizer: Tokenizer, text: str) -> _Encoded:
    """Encode ``text`` with the special tokens the config asks for.

    With ``add_bos_token``/``add_eos_token`` in the config, transformers replaces the
    post-processor by "bos? text eos?" (LlamaTokenizerFast defaults: bos yes, eos no);
    otherwise the post-processor of tokenizer.json decides.
    """
    config = tokenizer_config(model_dir)
    if not any(isinstance(config.get(k), bool) for k in ("add_bos_token", "add_eos_token")):
        enc = tokenizer.encode(text)
        return _Encoded(list(enc.ids), list(enc.tokens), list(enc.offsets))
    enc = tokenizer.encode(text, add_special_tokens=False)
    encoded = _Encoded(list(enc.ids), list(enc.tokens), list(enc.offsets))
    bos, eos = special_token(model_dir, "bos_token"), special_token(model_dir, "eos_token")
    if config.get("add_bos_token", True) is True and bos is not None:
        _insert(encoded, tokenizer, bos, 0)
    if config.get("add_eos_token", False) is True and eos is not None:
        _insert(encoded, tokenizer, eos, len(encoded.ids))
    return encoded


def _insert(encoded: _Encoded, tokenizer: Tokenizer, token: str, where: int) -> None:
    token_id = tokenizer.token_to_id(token)
    if token_id is not None:
        encoded.ids.insert(where, token_id)
        encoded.tokens.insert(where, token)
        encoded.offsets.insert(where, (0, 0))


def compare_tokenizers(expected_dir: Path, actual_dir: Path) -> Difference | None:
    """The first token the two tokenizers encode differently, or None.

    The probe is :data:`PROBE_TEXT` followed by every token added to either tokenizer
    (so a token only one of them knows is exercised); when the encodings agree, the
    vocabularies are compared id by id.
    """
    expected, actual = load_tokenizer(expected_dir), load_tokenizer(actual_dir)
    added = sorted(
        {t.content for tok in (expected, actual) for t in tok.get_added_tokens_decoder().values()}
    )
    text = PROBE_TEXT + " ".join(added)
    left = _encode(expected_dir, expected, text)
    right = _encode(actual_dir, actual, text)
    for index in range(max(len(left.ids), len(right.ids))):
        if _describe(left, index) != _describe(right, index):
            return Difference(
                what="token",
                index=index,
                expected=_describe(left, index),
                actual=_describe(right, index),
                context=_context(text, left if index < len(left.ids) else right, index),
            )
    return _compare_vocabularies(expected, actual)


def _describe(encoded: _Encoded, index: int) -> str:
    if index >= len(encoded.ids):
        return "(end of sequence)"
    return f"{encoded.ids[index]} {encoded.tokens[index]!r}"


def _context(text: str, encoded: _Encoded, index: int) -> str:
    start, end = encoded.offsets[index]
    return text[max(0, start - _CONTEXT) : end + _CONTEXT]


def _compare_vocabularies(expected: Tokenizer, actual: Tokenizer) -> Difference | None:
    left = {i: t for t, i in expected.get_vocab().items()}
    right = {i: t for t, i in actual.get_vocab().items()}
    for token_id in sorted(left.keys() | right.keys()):
        if left.get(token_id) != right.get(token_id):
            return Difference(
                what="vocabulary",
                index=token_id,
                expected=repr(left[token_id]) if token_id in left else "(no token)",
                actual=repr(right[token_id]) if token_id in right else "(no token)",
                context=f"token id {token_id}",
            )
    return None
