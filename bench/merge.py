"""Benchmark: ``adapterctl merge``'s two costs, the merge and the equivalence gate, against
PEFT's own merge called directly, for the example kit and a 1 B-parameter-shaped model.

Models:

- **kit**: the example store's tiny-llama@r1 (float16) and support-bot@1.1.0 (rank 8).
- **1b**: a generated Llama of TinyLlama's widths (hidden 2048, MLP 5632, 32 heads, 4 KV
  heads, vocabulary 32,000) and 20 layers: 1.0 B parameters, random weights in float16
  (1.9 GiB of safetensors), with a rank-16 LoRA on q/k/v/o_proj whose B is random too
  (PEFT's ``init_lora_weights=False``), so that the merge changes every target module.
  Built once per run in ``--dir`` (not timed).

Measured, in this process after one warm-up merge of the kit (imports paid once):
``adapterctl.merging.weights.merge`` (load in float32, ``merge_and_unload(safe_merge=True)``,
cast, ``save_pretrained``, tokenizer copied), the gate's ``equivalence.compare`` (base +
adapter and merged model on the eight fixed probes, and for the kit the golden prompts), and
the peer: PEFT's documented recipe, ``AutoModelForCausalLM.from_pretrained(base) →
PeftModel.from_pretrained → merge_and_unload() → save_pretrained`` in the base's dtype.
Best of ``--runs`` (2) for each. The ratio ours/peer is the price of merging in float32 and
checking for NaNs; the gate's ratio is what the proof costs next to the merge.
Usage: ``python bench/merge.py [--quick] [--runs 2] [--dir /tmp]`` (--quick: the kit only).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402
from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM, LlamaConfig  # noqa: E402

from adapterctl.inspect.base import read_base  # noqa: E402
from adapterctl.merging import quiet  # noqa: E402
from adapterctl.merging.equivalence import PROBES, compare  # noqa: E402
from adapterctl.merging.weights import base_dtype, merge  # noqa: E402
from summary import figure  # noqa: E402

STORE = REPO / "examples/store/sha256"
KIT_BASE = STORE / "e118e5aef1730b158648e04bed654af3e2165571d313a8ff597e3506a6591c68"
KIT_ADAPTER = STORE / "9ac675757a5cd2361d4aaaede4b1aea7b67a2da1c23f75dc3271f7f749c43792"
KIT_PROMPTS = 6
"""support-bot's golden cases (the gate adds them to the probes)."""


def peer_merge(base_dir: Path, adapter_dir: Path, out: Path) -> None:
    """PEFT's documented recipe, in the base's dtype."""
    dtype = getattr(torch, base_dtype(base_dir))
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    PeftModel.from_pretrained(model, adapter_dir).merge_and_unload().save_pretrained(out)


def generated(folder: Path) -> tuple[Path, Path]:
    """The 1 B-parameter-shaped base and its LoRA, written once into ``folder``."""
    base_dir, adapter_dir = folder / "base-1b", folder / "lora-1b"
    if (adapter_dir / "adapter_config.json").exists():
        return base_dir, adapter_dir
    config = LlamaConfig(
        hidden_size=2048, intermediate_size=5632, num_hidden_layers=20, num_attention_heads=32,
        num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048,
        tie_word_embeddings=False, dtype="float16",
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)  # type: ignore[no-untyped-call]
    model.save_pretrained(base_dir)
    for name in read_base(KIT_BASE).tokenizer_files:
        shutil.copyfile(KIT_BASE / name, base_dir / name)
    lora = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      init_lora_weights=False)  # fmt: skip
    get_peft_model(model, lora).save_pretrained(str(adapter_dir))
    return base_dir, adapter_dir


def best(runs: int, work: Callable[[Path], object], scratch: Path) -> float:
    times = []
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(dir=scratch)) / "out"
        started = time.perf_counter()
        work(out)
        times.append(time.perf_counter() - started)
        shutil.rmtree(out.parent)
    return min(times)


def measure(label: str, base_dir: Path, adapter_dir: Path, runs: int, scratch: Path) -> None:
    files = read_base(base_dir).tokenizer_files
    dtype = base_dtype(base_dir)
    params = sum(p.stat().st_size for p in base_dir.glob("*.safetensors")) / (
        2 if dtype != "float32" else 4
    )
    ours = best(runs, lambda out: merge(base_dir, adapter_dir, out, files, dtype), scratch)
    peer = best(runs, lambda out: peer_merge(base_dir, adapter_dir, out), scratch)
    merged = Path(tempfile.mkdtemp(dir=scratch)) / "merged"
    found = merge(base_dir, adapter_dir, merged, files, dtype)
    prompts = [("user", "How long can I return an order?")]
    extra = [tuple(prompts)] * (KIT_PROMPTS if label == "kit" else 0)
    started = time.perf_counter()
    result = compare(base_dir, adapter_dir, found.folder, extra)
    gate = time.perf_counter() - started
    print(f"{label}: {params / 1e6:,.1f} M parameters, {dtype}")
    print(f"  merge (adapterctl)   {ours:8.2f} s")
    print(f"  merge (PEFT direct)  {peer:8.2f} s   ratio {ours / peer:.2f}")
    print(f"  equivalence gate     {gate:8.2f} s   ({result.sequences} sequences, "
          f"{result.positions} positions, max |Δlogit| {result.max_abs_diff:.3g}, "
          f"top-1 {result.top1_agreement:.1%})")  # fmt: skip
    figure("merge", f"merge, {label}", f"{ours:.2f} s", peer=f"PEFT {peer:.2f} s",
           ratio=f"{ours / peer:.2f}")  # fmt: skip
    figure("merge", f"equivalence gate, {label}", f"{gate:.2f} s", peer=f"PEFT merge {peer:.2f} s",
           ratio=f"{gate / peer:.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the kit only")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-merge-") as tmp, quiet():
        scratch = Path(tmp)
        merge(KIT_BASE, KIT_ADAPTER, scratch / "warm-up", read_base(KIT_BASE).tokenizer_files,
              "float16")  # fmt: skip
        print(f"probes: {len(PROBES)} fixed prompts, plus the golden prompts of the line")
        measure("kit", KIT_BASE, KIT_ADAPTER, args.runs, scratch)
        if not args.quick:
            started = time.perf_counter()
            base_dir, adapter_dir = generated(scratch)
            print(f"(1b model generated in {time.perf_counter() - started:.0f} s, not timed)")
            measure("1b", base_dir, adapter_dir, args.runs, scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
