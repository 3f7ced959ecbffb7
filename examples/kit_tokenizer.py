"""The tokenizer half of the model kit: a byte-level BPE trained on a fixed corpus.

Training with ``tokenizers`` is deterministic for a given corpus and ``tokenizers`` version
(checked across processes), so the files are generated rather than cached. What
``transformers`` would write beside ``tokenizer.json`` (``tokenizer_config.json``,
``special_tokens_map.json``, the chat template) is written here too, with sorted keys.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Literal

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

TemplateLocation = Literal["tokenizer_config", "jinja", "json"]

BOS_TOKEN = "<|begin_of_text|>"
EOS_TOKEN = "<|end_of_text|>"
PAD_TOKEN = "<|pad|>"
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>")
#: In id order: the trainer gives them ids 0, 1, 2, ...
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN, *CHAT_TOKENS, PAD_TOKEN)
BOS_ID, EOS_ID, PAD_ID = 0, 1, SPECIAL_TOKENS.index(PAD_TOKEN)

_LOOP = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
#: ChatML, prefixed with the BOS token.
DEFAULT_CHAT_TEMPLATE = "{{ bos_token }}" + _LOOP
#: Renders differently from the default: a default system turn when none is given.
DRIFTED_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful support assistant.<|im_end|>\\n' }}"
    "{% endif %}" + _LOOP
)

_SUBJECTS = (
    "my order",
    "the invoice",
    "a refund",
    "the account",
    "your password",
    "the subscription",
    "my shipment",
    "the warranty claim",
    "our billing address",
    "the coupon code",
)
_STATES = (
    "was not delivered",
    "cannot be found",
    "should be cancelled",
    "has been charged twice",
    "will expire tomorrow",
    "needs a manual review",
)
_ASKS = (
    "Please help.",
    "Could you check?",
    "Thanks in advance!",
    "Escalate to a human agent.",
    "I have been waiting since Monday.",
)
_COLUMNS = ("id", "customer_name", "total_amount", "created_at", "status", "country")
_TABLES = ("orders", "customers", "refunds", "invoices", "shipments")
_PREDICATES = (
    "status = 'open'",
    "total_amount > 100",
    "country IN ('DE', 'FR')",
    "created_at >= DATE '2024-01-01'",
)


def corpus() -> list[str]:
    """The fixed training corpus: 300 support sentences and 120 SQL statements."""
    support = [
        f"{subject.capitalize()} {state}. {ask}"
        for subject, state, ask in itertools.product(_SUBJECTS, _STATES, _ASKS)
    ]
    sql = [
        f"SELECT {col}, COUNT(*) FROM {table} WHERE {pred} GROUP BY {col} ORDER BY {col} LIMIT 10;"
        for col, table, pred in itertools.product(_COLUMNS, _TABLES, _PREDICATES)
    ]
    return support + sql


def train_tokenizer(vocab_size: int) -> Tokenizer:
    """A byte-level BPE with at most ``vocab_size`` entries (512 is reached exactly)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(), trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A {BOS_TOKEN}:1 $B:1",
        special_tokens=[(BOS_TOKEN, BOS_ID)],
    )
    return tokenizer


def write_json(path: Path, data: Any) -> None:
    """JSON as transformers and PEFT write it: two-space indent, sorted keys, final newline."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def _added_token(content: str) -> dict[str, Any]:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    }


def _tokenizer_config(model_max_length: int) -> dict[str, Any]:
    decoder = {
        str(i): {**_added_token(token), "special": True} for i, token in enumerate(SPECIAL_TOKENS)
    }
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": list(CHAT_TOKENS),
        "bos_token": BOS_TOKEN,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "extra_special_tokens": {},
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": model_max_length,
        "pad_token": PAD_TOKEN,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def _special_tokens_map() -> dict[str, Any]:
    return {
        "additional_special_tokens": [_added_token(token) for token in CHAT_TOKENS],
        "bos_token": _added_token(BOS_TOKEN),
        "eos_token": _added_token(EOS_TOKEN),
        "pad_token": _added_token(PAD_TOKEN),
    }


def write_tokenizer_files(
    target: Path,
    vocab_size: int,
    model_max_length: int,
    chat_template: str,
    template_location: TemplateLocation,
) -> None:
    """Write tokenizer.json, tokenizer_config.json, special_tokens_map.json and the template."""
    train_tokenizer(vocab_size).save(str(target / "tokenizer.json"), pretty=True)
    config = _tokenizer_config(model_max_length)
    if template_location == "tokenizer_config":
        config["chat_template"] = chat_template
    elif template_location == "jinja":
        (target / "chat_template.jinja").write_text(chat_template, encoding="utf-8", newline="\n")
    else:
        write_json(target / "chat_template.json", {"chat_template": chat_template})
    write_json(target / "tokenizer_config.json", config)
    write_json(target / "special_tokens_map.json", _special_tokens_map())
