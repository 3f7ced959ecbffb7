"""PEFT's ``merge_and_unload`` on the CPU: base + adapter → one full-weight model folder.

The merge runs in float32 whatever the base's dtype (W + scale·B·A is exact to float32's
rounding), and only the result is cast to the dtype asked for, so that a float16 or
bfloat16 merged model carries one rounding, not two. Tokenizer and chat-template files are
copied from the source base byte for byte: a merged base must encode and render exactly
as its source did (the equivalence gate checks both fingerprints).

torch, transformers and peft (the ``serve`` extra) are imported by the functions that use
them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from adapterctl.errors import InputError

DTYPES = ("float32", "float16", "bfloat16")


class MergeError(InputError):
    """The adapter cannot be merged into its base."""


@dataclass(frozen=True, slots=True)
class Merged:
    """What a merge wrote, for its record."""

    folder: Path
    dtype: str
    peft_version: str


def base_dtype(base_dir: Path) -> str:
    """The dtype the base declares in config.json (``dtype``, or ``torch_dtype`` before
    transformers 4.56), float32 when it declares none."""
    try:
        config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MergeError(f"{base_dir}/config.json cannot be read: {exc}") from None
    declared = config.get("dtype") or config.get("torch_dtype") or "float32"
    if declared not in DTYPES:
        raise MergeError(
            f"{base_dir}/config.json: dtype {declared!r} cannot be merged into; "
            f"expected one of {', '.join(DTYPES)}"
        )
    return str(declared)


def merge(
    base_dir: Path, adapter_dir: Path, out: Path, tokenizer_files: tuple[str, ...], dtype: str
) -> Merged:
    """Merge ``adapter_dir`` into ``base_dir`` and save the result in ``out`` (created)."""
    import peft  # noqa: PLC0415 - heavy
    import torch  # noqa: PLC0415 - heavy
    from peft import PeftModel  # noqa: PLC0415 - heavy
    from transformers import AutoModelForCausalLM  # noqa: PLC0415 - heavy

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    try:
        wrapped = PeftModel.from_pretrained(model, adapter_dir)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise MergeError(f"PEFT cannot load the adapter onto the base: {exc}") from None
    merged = wrapped.merge_and_unload(safe_merge=True)
    merged = merged.to(getattr(torch, dtype))
    merged.config.dtype = getattr(torch, dtype)
    out.mkdir(parents=True)
    merged.save_pretrained(out, safe_serialization=True)
    for name in tokenizer_files:
        shutil.copyfile(base_dir / name, out / name)
    return Merged(out, dtype, peft.__version__)
