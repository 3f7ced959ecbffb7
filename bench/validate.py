"""Benchmark: ``adapterctl validate`` on 10,000 revision manifests vs check-jsonschema.

Generates a registry of 500 adapter lines × 20 revisions (plus their adapter.yaml files,
one base and two environments) in a temporary directory, then times, in the same run:

- ``adapterctl validate`` on the whole registry (schema, cross references, all cores);
- ``check-jsonschema`` validating the same files against the same generated schemas
  (one invocation per schema, all files of that kind as arguments).

Both are run as subprocesses, start-up included. Prints both figures and the ratio.
Usage: ``python bench/validate.py [--lines 500] [--revisions 20] [--skip-peer]``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import figure

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def revision(name: str, version: str, tokenizer: str, template: str) -> str:
    return f"""# yaml-language-server: $schema=../../schemas/adapter-revision.schema.json
name: {name}
version: {version}
created: 2026-11-20T09:12:00Z
description: Generated revision {version} of {name} for the validate benchmark.
base: {{name: tiny-llama, revision: r1}}
artifact:
  format: peft-lora
  digest: {digest(name + version)}
  files:
    adapter_config.json: {{digest: {digest(name + version + "c")}, size: 812}}
    adapter_model.safetensors: {{digest: {digest(name + version + "w")}, size: 65672}}
lora:
  rank: 8
  alpha: 16
  target_modules: [q_proj, k_proj, v_proj, o_proj]
  use_rslora: false
  use_dora: false
  bias: none
tokenizer_digest: {tokenizer}
chat_template_digest: {template}
quantization: none
training:
  recipe:
    code: git+https://git.example.internal/ml/recipes@4be1c2d
    seed: 1234
    hyperparameters: {{lr: 2.0e-4, epochs: 3, batch_size: 16}}
  datasets:
    - id: {name}-data
      digest: {digest(name + version + "d")}
      time_window: [2026-07-01, 2026-09-30]
      filters: [pii-scrubbed, english-only]
  data_scope: Generated data scope for the benchmark, PII removed before export.
  trained_by: svc-train-pipeline
  evaluation: {{suite: basics, pass_rate: 0.96}}
"""


def line(name: str) -> str:
    return f"""# yaml-language-server: $schema=../../schemas/adapter-line.schema.json
name: {name}
description: Generated adapter line {name}.
owners: ["@example-org/ml-team"]
product_owner: "@example-org/product"
"""


def environment(env: str, lines: int, versions: int) -> str:
    routes = "\n".join(
        f"  line-{i:04d}:\n    - {{version: 1.{versions - 1}.0, weight: 100}}" for i in range(lines)
    )
    return f"""# yaml-language-server: $schema=../../schemas/environment.schema.json
name: {env}
base: {{name: tiny-llama, revision: r1}}
serving: {{engine: vllm, max_lora_rank: 64, max_loras: 8, max_cpu_loras: 16}}
routes:
{routes}
"""


def generate(root: Path, lines: int, versions: int) -> int:
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "pyproject.toml").write_text("[tool.adapterctl]\n")
    base = (REPO / "bases/tiny-llama/r1.yaml").read_text()
    (root / "bases/tiny-llama").mkdir(parents=True)
    (root / "bases/tiny-llama/r1.yaml").write_text(base)
    tokenizer = next(x for x in base.split() if x.startswith("sha256:"))
    count = 0
    for i in range(lines):
        name = f"line-{i:04d}"
        folder = root / "adapters" / name
        folder.mkdir(parents=True)
        (folder / "adapter.yaml").write_text(line(name))
        for v in range(versions):
            (folder / f"1.{v}.0.yaml").write_text(revision(name, f"1.{v}.0", tokenizer, tokenizer))
            count += 1
    for env in ("staging", "prod"):
        (root / "environments" / env).mkdir(parents=True)
        (root / "environments" / env / "environment.yaml").write_text(
            environment(env, lines, versions)
        )
    return count


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, result


def run_peer(root: Path) -> tuple[float, bool]:
    groups = {
        "adapter-revision": sorted(str(p) for p in root.glob("adapters/*/[0-9]*.yaml")),
        "adapter-line": sorted(str(p) for p in root.glob("adapters/*/adapter.yaml")),
        "base": sorted(str(p) for p in root.glob("bases/*/*.yaml")),
        "environment": sorted(str(p) for p in root.glob("environments/*/environment.yaml")),
    }
    total, ok = 0.0, True
    for kind, files in groups.items():
        schema = root / "schemas" / f"{kind}.schema.json"
        seconds, result = timed(
            [str(BIN / "check-jsonschema"), "--schemafile", str(schema), *files], root
        )
        total += seconds
        if result.returncode != 0:
            ok = False
            print(f"check-jsonschema failed on {kind}:")
            print(result.stdout[-2000:], result.stderr[-2000:])
    return total, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--revisions", type=int, default=20)
    parser.add_argument("--skip-peer", action="store_true", help="time adapterctl only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-") as tmp:
        root = Path(tmp)
        count = generate(root, args.lines, args.revisions)
        files = count + args.lines + 3
        print(f"registry: {count:,} revision manifests over {args.lines} lines ({files:,} files)")
        ours, result = timed([str(BIN / "adapterctl"), "validate", "--root", str(root)], root)
        print(
            f"adapterctl validate:  {ours:7.2f} s  (exit {result.returncode}) "
            f"{result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr}"
        )
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:])
            return 1
        if args.skip_peer:
            return 0
        peer, ok = run_peer(root)
        print(f"check-jsonschema:     {peer:7.2f} s  ({'all valid' if ok else 'FAILED'})")
        print(f"ratio: adapterctl is {peer / ours:.1f}x faster")
        figure("validate", f"{count:,} manifests", f"{ours:.2f} s", peer=f"check-jsonschema "
               f"{peer:.2f} s", ratio=f"{peer / ours:.1f}× faster")  # fmt: skip
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
