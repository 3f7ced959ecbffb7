"""Numerical equivalence of a merged model with the base + adapter it came from.

Both run the same token sequences, in float32 on the CPU: the reference is the source
base with the adapter applied by PEFT (unmerged, as vLLM and the reference node serve it),
the candidate is the merged folder, loaded in its stored dtype and computed in float32, so
the figure measures what the merged artifact holds (its rounding), not a kernel's
precision. Reported: the largest absolute difference between the two models' logits over
every position of every sequence, and how often their top-1 next tokens agree.

Tolerances per dtype (:data:`TOLERANCES`), on logits: float32 1e-3 — folding B·A into W
changes only the order of float32 additions (measured 1e-5 on the example kit), so
anything near 1e-3 is a wrong merge, not rounding; float16 5e-2 — storing weights in
float16 rounds each to 2⁻¹¹ relative (~5e-4), and the error grows through the layers
(measured 2.7e-3 on the kit); bfloat16 0.25 — 2⁻⁸ relative per weight, sixteen times
coarser (measured 7.5e-2 on the kit). A larger model accumulates more: the figures are the
defaults, and a base with a tighter or looser budget states its own (``--tolerance``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOLERANCES = {"float32": 1e-3, "float16": 5e-2, "bfloat16": 0.25}
"""Largest absolute logit difference a merged model may show, by its stored dtype."""

PROBES = (
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village,",
    "SELECT name FROM users WHERE",
    "1, 2, 3, 5, 8, 13,",
    "Refunds are possible within",
    "Translate to German: good morning",
    "\u00bfD\u00f3nde est\u00e1 la estaci\u00f3n?",
)
"""A fixed probe set beside the adapter's golden prompts: prose, code, SQL, numbers, other
languages; so that a merge is compared where the golden suite does not look."""


@dataclass(frozen=True, slots=True)
class Equivalence:
    """The figures of one comparison."""

    sequences: int
    positions: int
    max_abs_diff: float
    top1_agreement: float
    """Fraction of positions whose argmax token is the same in both models."""


def compare(
    base_dir: Path, adapter_dir: Path, merged_dir: Path, prompts: Sequence[Prompt]
) -> Equivalence:
    """Run ``prompts`` (with the fixed probes) through both models and compare the logits."""
    import torch  # noqa: PLC0415 - heavy
    from peft import PeftModel  # noqa: PLC0415 - heavy
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415 - heavy

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    sequences = [_encode(tokenizer, prompt) for prompt in (*prompts, *PROBES)]
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    reference = PeftModel.from_pretrained(base, adapter_dir).eval()
    merged: Any = AutoModelForCausalLM.from_pretrained(merged_dir)
    merged = merged.to(torch.float32).eval()
    largest, agree, positions = 0.0, 0, 0
    with torch.inference_mode():
        for ids in sequences:
            tensor = torch.tensor([ids])
            want = reference(input_ids=tensor).logits[0]
            got = merged(input_ids=tensor).logits[0]
            largest = max(largest, float((want - got).abs().max()))
            agree += int((want.argmax(-1) == got.argmax(-1)).sum())
            positions += len(ids)
    return Equivalence(len(sequences), positions, largest, agree / positions)


Prompt = str | tuple[tuple[str, str], ...]
"""A completion prompt, or chat messages as (role, content) pairs."""


def _encode(tokenizer: Any, prompt: Prompt) -> list[int]:
    if isinstance(prompt, str):
        ids = tokenizer(prompt)["input_ids"]
    else:
        messages = [{"role": role, "content": content} for role, content in prompt]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if not isinstance(ids, list):  # transformers 5 returns a BatchEncoding
            ids = ids["input_ids"]
    return [int(i) for i in ids] or [int(tokenizer.eos_token_id or 0)]
