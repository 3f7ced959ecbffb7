"""Benchmark: the compat gate reads metadata only, so its cost does not grow with weights.

For adapters of about 10 MB, 1 GB and 10 GB (sparse files: the tensor data is never
written, and never read), times in the same run:

- adapterctl's compat check: adapter_config.json + the safetensors header + every tensor
  against the base's shape table;
- the peer: ``safetensors.safe_open`` listing the same tensors' shapes (it mmaps the file
  and parses the header in Rust).

Prints time and bytes read per size, and the 10 GB / 10 MB time ratio (≈1 means the
check does not grow with the size of the tensor data).
Usage: ``python bench/compat.py [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from pathlib import Path

from safetensors import safe_open

from adapterctl.findings import Location
from adapterctl.gates.compat import AdapterFacts, check_adapter
from adapterctl.inspect.peft import read_peft_config
from adapterctl.inspect.safetensors import read_header_file
from adapterctl.model import AdapterRevision, BaseManifest
from summary import figure

RANK = 16
MODULES = [f"model.layers.{i}.self_attn.{m}_proj" for i in (0, 1) for m in ("q", "v")]
SIZES = {"10 MB": 10 * 2**20, "1 GB": 2**30, "10 GB": 10 * 2**30}
DIGEST = "sha256:" + "0" * 64


def make_adapter(folder: Path, size: int) -> int:
    """A PEFT adapter whose fp16 tensors total ``size`` bytes; returns the hidden size."""
    hidden = size // (len(MODULES) * 2 * RANK * 2)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for module in MODULES:
        for part, shape in (("lora_A", [RANK, hidden]), ("lora_B", [hidden, RANK])):
            length = shape[0] * shape[1] * 2
            key = f"base_model.model.{module}.{part}.weight"
            header[key] = {
                "dtype": "F16",
                "shape": shape,
                "data_offsets": [offset, offset + length],
            }
            offset += length
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with (folder / "adapter_model.safetensors").open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)
    config = {
        "peft_type": "LORA",
        "r": RANK,
        "lora_alpha": 32,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "base_model_name_or_path": "bench-base",
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return hidden


def manifests(hidden: int) -> tuple[AdapterRevision, BaseManifest]:
    base = BaseManifest.model_validate(
        {
            "name": "bench-base",
            "revision": "r1",
            "architecture": "LlamaForCausalLM",
            "config_digest": DIGEST,
            "tokenizer_digest": DIGEST,
            "chat_template_digest": DIGEST,
            "quantization": "none",
            "vocab_size": 32000,
            "shapes": {m: [hidden, hidden] for m in MODULES},
        }
    )
    revision = AdapterRevision.model_validate(
        {
            "name": "bench",
            "version": "1.0.0",
            "created": "2026-11-24T00:00:00Z",
            "description": "benchmark",
            "base": {"name": "bench-base", "revision": "r1"},
            "artifact": {
                "format": "peft-lora",
                "digest": DIGEST,
                "files": {"adapter_model.safetensors": {"digest": DIGEST, "size": 1}},
            },
            "lora": {"rank": RANK, "alpha": 32, "target_modules": ["q_proj", "v_proj"]},
            "tokenizer_digest": DIGEST,
            "chat_template_digest": DIGEST,
            "quantization": "none",
            "training": {
                "recipe": {"code": "bench", "seed": 0},
                "datasets": [{"id": "bench", "digest": DIGEST}],
                "data_scope": "none",
                "trained_by": "bench",
            },
        }
    )
    return revision, base


def ours(folder: Path, revision: AdapterRevision, base: BaseManifest) -> tuple[float, int]:
    start = time.perf_counter()
    header = read_header_file(folder / "adapter_model.safetensors")
    facts = AdapterFacts(config=read_peft_config(folder), header=header)
    findings = check_adapter(
        revision, facts, base, lambda path: Location("bench", None, None, path)
    )
    elapsed = time.perf_counter() - start
    assert findings == [], findings
    return elapsed, header.bytes_read + (folder / "adapter_config.json").stat().st_size


def peer(folder: Path) -> float:
    start = time.perf_counter()
    with safe_open(str(folder / "adapter_model.safetensors"), framework="numpy") as handle:
        shapes = {key: handle.get_slice(key).get_shape() for key in handle.keys()}  # noqa: SIM118
    assert len(shapes) == 2 * len(MODULES)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, tuple[float, int, float]] = {}
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        for label, size in SIZES.items():
            folder = Path(tmp) / label.replace(" ", "")
            folder.mkdir()
            revision, base = manifests(make_adapter(folder, size))
            runs = [ours(folder, revision, base) for _ in range(args.repeat)]
            best = min(t for t, _ in runs)
            results[label] = (best, runs[0][1], min(peer(folder) for _ in range(args.repeat)))
    print(
        f"{'adapter':>8}  {'adapterctl compat':>18}  {'bytes read':>11}  {'safe_open shapes':>17}"
    )
    for label, (best, read, other) in results.items():
        print(f"{label:>8}  {best * 1000:15.2f} ms  {read:>11,}  {other * 1000:14.2f} ms")
    ratio = results["10 GB"][0] / results["10 MB"][0]
    print(f"time 10 GB / 10 MB: {ratio:.2f}x (1.0 = independent of tensor data size)")
    best, read, other = results["10 GB"]
    figure("compat", "10 GB adapter", f"{best * 1000:.2f} ms, {read:,} bytes read",
           peer=f"safe_open {other * 1000:.2f} ms", ratio=f"10 GB/10 MB {ratio:.2f}×",
           target="independent of size", met=ratio < 2)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
