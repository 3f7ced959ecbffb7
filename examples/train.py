"""The trained example kit: tiny Llama bases and PEFT LoRA adapters that really answer.

``python -m examples.train OUT`` (or ``main(OUT)``) writes, deterministically on CPU:

- ``bases/tiny-llama-r1``: the kit's tiny Llama (``examples.kit``, same config and
  tokenizer), briefly pretrained (full fine-tune) on chats in which the assistant repeats
  each text of ``examples.train_data``: it learns to say the texts, to end a turn, and to
  look back at the user's message, which a LoRA on a random base cannot learn in seconds.
  The weights are saved in float16.
- ``bases/tiny-llama-r2``: r1's weights and tokenizer with a drifted chat template (a default
  system turn, no newline between turns): it renders every conversation differently.
- ``bases/tiny-llama-wide``: another base (hidden_size 192, 6 heads), pretrained the same way.
- ``adapters/<name>``: PEFT LoRA adapters (``ADAPTERS``) fine-tuned on top of the saved
  (float16) base on (conversation → answer) pairs rendered with the base chat template,
  loss on the answer and what ends it (``<|im_end|>``, then ``<|end_of_text|>``) only.
- ``golden/support-bot/refunds.yaml``, ``golden/sql-helper/basics.yaml``: the golden suites.

Training is full-batch AdamW with fixed seeds, deterministic algorithms and one thread, so
every run on a machine writes byte-identical files. A whole run takes about a minute on one
CPU thread (measured: 55–60 s on a 2-core x86 machine; the two base pretrainings take 14 s
and 20 s, each adapter 3–6 s).
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import yaml
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import AutoTokenizer, LlamaForCausalLM, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from examples import train_data
from examples.kit import SAFETENSORS_METADATA, BaseSpec, make_base
from examples.kit_tokenizer import EOS_TOKEN, PAD_ID

R1, R2, WIDE = "tiny-llama-r1", "tiny-llama-r2", "tiny-llama-wide"
END_OF_TURN = "<|im_end|>"
#: What every trained answer ends with: the end of the turn, then the end of the text (for
#: servers that stop at the tokenizer's EOS token only; both decode to nothing).
END_OF_ANSWER = END_OF_TURN + EOS_TOKEN
MAX_NEW_TOKENS = 48
IGNORE = -100
QV = ("q_proj", "v_proj")
QKVO = ("q_proj", "k_proj", "v_proj", "o_proj")

#: r1's template drifted: a default system turn when none is given, and no newline after
#: ``<|im_end|>``, so conversations with and without a system message render differently.
R2_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful support assistant.<|im_end|>' }}"
    "{% endif %}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
#: Directory under bases/ that is pretrained → its kit spec. Both have head_dim 32 (vLLM's
#: CPU attention refuses 16) and the same module names; their shapes differ.
PRETRAINED_BASES: dict[str, BaseSpec] = {
    R1: BaseSpec(arch="llama", hidden_size=128, intermediate_size=256, num_heads=4, num_kv_heads=2),
    WIDE: BaseSpec(
        arch="llama", hidden_size=192, intermediate_size=256, num_heads=6, num_kv_heads=2
    ),
}


@dataclass(frozen=True)
class Schedule:
    """Full-batch AdamW: this many steps at this learning rate, from this seed."""

    steps: int
    lr: float
    seed: int


@dataclass(frozen=True)
class AdapterPlan:
    """One adapter: the base directory it is trained on, its LoRA shape and schedule."""

    base: str
    base_model_name_or_path: str
    schedule: Schedule
    rank: int = 8
    alpha: int = 16
    target_modules: tuple[str, ...] = QV


PRETRAIN = Schedule(steps=100, lr=3e-3, seed=7)
ADAPTERS: dict[str, AdapterPlan] = {
    "support-bot-1.0.0": AdapterPlan(R1, "tiny-llama", Schedule(100, 1e-2, 101)),
    "support-bot-1.1.0": AdapterPlan(R1, "tiny-llama", Schedule(100, 1e-2, 102)),
    "support-bot-1.2.0": AdapterPlan(
        R1, "tiny-llama", Schedule(100, 1e-2, 103), rank=16, alpha=32, target_modules=QKVO
    ),
    "sql-helper-1.0.0": AdapterPlan(R1, "tiny-llama", Schedule(100, 1e-2, 201)),
    "sql-helper-1.1.0": AdapterPlan(R1, "tiny-llama", Schedule(100, 1e-2, 202)),
    "support-bot-wide": AdapterPlan(WIDE, "tiny-llama-wide", Schedule(100, 1e-2, 301)),
}
SUITES = {"support-bot": train_data.REFUNDS, "sql-helper": train_data.BASICS}

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
Row = tuple[list[int], list[int]]


@contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seeded, deterministic, single-threaded torch; the previous settings come back after."""
    threads = torch.get_num_threads()
    algorithms = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms)


@contextmanager
def quiet() -> Iterator[None]:
    """No loading progress bars, and no warning about PEFT using a deprecated transformers
    attribute (``is_gradient_checkpointing``); the previous settings come back after."""
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
            )
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


# --- tokens --------------------------------------------------------------------------------


def load_tokenizer(base_dir: Path) -> PreTrainedTokenizerBase:
    """The base's tokenizer (with its chat template)."""
    tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(base_dir)
    return tokenizer


def encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text``, special tokens written in it included, nothing added."""
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: Sequence[dict[str, str]]) -> list[int]:
    """The conversation rendered by the chat template with the generation prompt, encoded."""
    text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    assert isinstance(text, str)
    return encode(tokenizer, text)


def make_batch(rows: Sequence[Row]) -> Batch:
    """(input_ids, labels, attention_mask), right-padded; only the targets are labelled."""
    width = max(len(context) + len(target) for context, target in rows)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (context, target) in enumerate(rows):
        start, end = len(context), len(context) + len(target)
        ids[i, :end] = torch.tensor(context + target)
        labels[i, start:end] = torch.tensor(target)
        mask[i, :end] = 1
    return ids, labels, mask


def chat_rows(tokenizer: PreTrainedTokenizerBase, adapter: str) -> list[Row]:
    """(rendered prompt, answer + end of turn) for each of the adapter's training pairs."""
    return [
        (prompt_ids(tokenizer, messages), encode(tokenizer, answer + END_OF_ANSWER))
        for messages, answer in train_data.training_pairs(adapter)
    ]


def pretraining_texts() -> list[str]:
    """Every system prompt, question and answer (right or wrong) once, in a fixed order."""
    texts: list[str] = []
    for suite in SUITES.values():
        for case in suite.cases:
            texts += [m["content"] for m in train_data.rendered_messages(suite, case)]
            texts.append(case.answer)
    texts += train_data.WRONG_ANSWERS.values()
    return list(dict.fromkeys(texts))


def pretraining_rows(tokenizer: PreTrainedTokenizerBase) -> list[Row]:
    """Each pretraining text said by the user and echoed by the assistant, learnt whole."""
    rows: list[Row] = []
    for text in pretraining_texts():
        ids = prompt_ids(tokenizer, [{"role": "user", "content": text}])
        ids += encode(tokenizer, text + END_OF_ANSWER)
        rows.append((ids[:1], ids[1:]))
    return rows


# --- training ------------------------------------------------------------------------------


def fit(model: torch.nn.Module, batch: Batch, schedule: Schedule) -> float:
    """Full-batch AdamW on the trainable parameters; the last step's loss."""
    ids, labels, mask = batch
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=schedule.lr, weight_decay=0.0)
    model.train()
    loss = torch.zeros(())
    for _ in range(schedule.steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return loss.item()


def load_model(base_dir: Path) -> LlamaForCausalLM:
    """The base model in float32 (from its float16 weights), in eval mode."""
    model: LlamaForCausalLM = LlamaForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    model.eval()  # type: ignore[no-untyped-call]
    return model


def save_weights(model: LlamaForCausalLM, base_dir: Path) -> None:
    """Replace the base's ``model.safetensors`` with ``model``'s weights in float16."""
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(base_dir / "model.safetensors"), metadata=SAFETENSORS_METADATA)


def pretrain_base(base_dir: Path, spec: BaseSpec) -> None:
    """Write the kit base into ``base_dir``, then fine-tune all of it on the training texts."""
    make_base(base_dir, spec)
    with quiet(), deterministic(PRETRAIN.seed):
        model = load_model(base_dir)
        fit(model, make_batch(pretraining_rows(load_tokenizer(base_dir))), PRETRAIN)
        save_weights(model, base_dir)


def write_drifted_base(bases: Path) -> None:
    """r2: r1's config, weights and tokenizer with the drifted chat template."""
    make_base(bases / R2, replace(PRETRAINED_BASES[R1], chat_template=R2_TEMPLATE))
    shutil.copyfile(bases / R1 / "model.safetensors", bases / R2 / "model.safetensors")


def lora_config(plan: AdapterPlan) -> LoraConfig:
    """The adapter's LoRA configuration (no dropout: full-batch training is exact)."""
    return LoraConfig(
        r=plan.rank,
        lora_alpha=plan.alpha,
        target_modules=list(plan.target_modules),
        lora_dropout=0.0,
        bias="none",
        task_type="CAUSAL_LM",
    )


def train_adapter(bases: Path, target: Path, name: str) -> None:
    """Fine-tune the adapter ``name`` on its base and save it as a PEFT directory."""
    plan = ADAPTERS[name]
    base_dir = bases / plan.base
    with quiet(), deterministic(plan.schedule.seed):
        model = get_peft_model(load_model(base_dir), lora_config(plan))
        fit(model, make_batch(chat_rows(load_tokenizer(base_dir), name)), plan.schedule)
    config = model.peft_config["default"]
    assert isinstance(config, LoraConfig)
    config.base_model_name_or_path = plan.base_model_name_or_path
    # PEFT keeps target_modules as a set, which would be written in hash-seed order.
    config.target_modules = sorted(plan.target_modules)
    shutil.rmtree(target, ignore_errors=True)
    model.save_pretrained(str(target), save_embedding_layers=False)
    (target / "README.md").unlink(missing_ok=True)


# --- serving -------------------------------------------------------------------------------


def load_adapter(base_dir: Path, adapter_dir: Path) -> PeftModel:
    """The base in float32 with the adapter applied, ready for inference."""
    with quiet():
        model = PeftModel.from_pretrained(load_model(base_dir), adapter_dir)
    return model.eval()


@torch.no_grad()
def greedy_answer(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[dict[str, str]],
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> str:
    """The greedy (temperature 0) answer through the chat template, up to the end of the
    turn (``<|im_end|>``) or of the text (the EOS token), whichever comes first."""
    ids = prompt_ids(tokenizer, messages)
    stop = {tokenizer.convert_tokens_to_ids(END_OF_TURN), tokenizer.eos_token_id}
    answer: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(input_ids=torch.tensor([ids + answer]), use_cache=False).logits
        token = int(logits[0, -1].argmax())
        if token in stop:
            break
        answer.append(token)
    return str(tokenizer.decode(answer, skip_special_tokens=True))


# --- golden suites and main ----------------------------------------------------------------


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as the registry's YAML files do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        del indentless  # never: "- item" goes two spaces in from its key
        super().increase_indent(flow, False)


def write_suites(out: Path) -> None:
    """Write each golden suite as YAML under ``out/golden/<line>/<suite>.yaml``."""
    for line, suite in SUITES.items():
        path = out / "golden" / line / f"{suite.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = yaml.dump(
            train_data.suite_document(suite),
            Dumper=_IndentedDumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=None,
        )
        path.write_text(f"{train_data.SCHEMA_COMMENT}\n{body}", encoding="utf-8", newline="\n")


def main(out: Path) -> None:
    """Write the trained bases, adapters and golden suites into ``out``."""
    bases = out / "bases"
    for name, spec in PRETRAINED_BASES.items():
        shutil.rmtree(bases / name, ignore_errors=True)
        pretrain_base(bases / name, spec)
    shutil.rmtree(bases / R2, ignore_errors=True)
    write_drifted_base(bases)
    for name in ADAPTERS:
        train_adapter(bases, out / "adapters" / name, name)
    write_suites(out)


def _cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.train", description=__doc__)
    parser.add_argument("out", type=Path, help="where to write bases/, adapters/ and golden/")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    main(args.out)
    print(f"trained into {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    _cli()
