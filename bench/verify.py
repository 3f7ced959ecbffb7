"""Benchmark: ``adapterctl verify --all`` on 200 signed revisions vs ``model_signing verify``.

Builds in a temporary directory a registry with one adapter line of ``--revisions`` real
PEFT LoRA adapters (``examples.kit.make_adapter``, one seed each; ``--hidden-size`` and
``--rank`` make them bigger), stores them in a ``file://`` store, writes their manifests
and signs every one with a fresh EC P-256 key (key mode). Then times, in the same run:

- ``adapterctl verify --all`` (one process, revisions verified in parallel worker
  processes across all cores), with a cold digest cache and again with a warm one;
- the same with ``--workers 1`` (cold), to show what the parallelism brings;
- ``model_signing verify key`` run once per revision on the same artifacts and bundles,
  the way a script would call the upstream CLI;
- model-signing's Python API in one process, revision after revision (no start-up cost
  per revision: the fairest baseline for the verification work itself).

Every run is a subprocess, start-up included, and must succeed. Prints the figures and
the ratios; the target is ``model_signing verify`` one by one ÷ ``adapterctl verify``
(warm) ≥ 3. Usage: ``python bench/verify.py [--revisions 200] [--hidden-size 64]
[--rank 8] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapterctl.layout import revision_path
from adapterctl.registry import Registry
from adapterctl.signing.sign import KeySigner, revision_subject, sign_subject
from adapterctl.store.digests import digest_directory
from adapterctl.store.filestore import FileStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the examples package
from examples.kit import AdapterSpec, BaseSpec, make_adapter
from summary import figure

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LINE = "bench-bot"
IDENTITY = "svc-train-pipeline@example.internal"
LIBRARY_LOOP = """
import sys
from pathlib import Path
from model_signing import verifying
key = Path(sys.argv[1])
for line in Path(sys.argv[2]).read_text().splitlines():
    artifact, bundle = line.split("\\t")
    verifying.Config().use_elliptic_key_verifier(public_key=key).verify(artifact, bundle)
"""


def write_keys(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "signer.pem", folder / "signer.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def manifest(version: str, artifact: Path, template: str) -> str:
    """The support-bot 1.0.0 manifest, renamed and pointing at ``artifact``."""
    digest = digest_directory(artifact)
    files = "".join(
        f"    {f.name}:\n      digest: {f.digest}\n      size: {f.size}\n" for f in digest.files
    )
    head, rest = template.split("artifact:\n", 1)
    _, tail = rest.split("lora:\n", 1)
    head = head.replace("name: support-bot", f"name: {LINE}").replace(
        "version: 1.0.0", f"version: {version}"
    )
    artifact_block = f"  format: peft-lora\n  digest: {digest.digest}\n  files:\n{files}"
    return f"{head}artifact:\n{artifact_block}lora:\n{tail}"


def build(root: Path, count: int, base: BaseSpec, rank: int) -> list[tuple[Path, Path]]:
    """A registry of ``count`` signed revisions; returns (artifact, bundle) pairs.

    The signing key pair is left beside the registry (``signer.pem``, ``signer.pub``)."""
    shutil.copytree(REPO / "bases", root / "bases")
    (root / "pyproject.toml").write_text('[tool.adapterctl]\nstore = "file://store"\n')
    line = root / "adapters" / LINE
    line.mkdir(parents=True)
    source = REPO / "adapters/support-bot"
    line_text = (source / "adapter.yaml").read_text().replace("support-bot", LINE)
    (line / "adapter.yaml").write_text(line_text.replace("golden_suites: [refunds]\n", ""))
    template = (source / "1.0.0.yaml").read_text()
    store = FileStore(root / "store", "file://store")
    work = root.parent / "adapters-src"
    for index in range(count):
        adapter = work / str(index)
        make_adapter(adapter, base, AdapterSpec(rank=rank, seed=1000 + index))
        version = f"1.0.{index}"
        (root / revision_path(LINE, version)).write_text(manifest(version, adapter, template))
        store.put(digest_directory(adapter).digest, adapter)
    shutil.rmtree(work)
    return sign_all(root, store, count)


def sign_all(root: Path, store: FileStore, count: int) -> list[tuple[Path, Path]]:
    private, _ = write_keys(root.parent)
    registry = Registry.load(root)
    pairs = []
    for index in range(count):
        revision = registry.revision(LINE, f"1.0.{index}")
        assert revision is not None, f"{LINE}@1.0.{index} is not a valid manifest"
        bundle, _ = sign_subject(root, revision_subject(revision), store, KeySigner(private))
        artifact = store.local_path(revision.artifact.digest)
        assert artifact is not None
        pairs.append((artifact, root / bundle))
    return pairs


def timed(command: Sequence[object], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        shown = " ".join(str(part) for part in command)
        raise SystemExit(f"{shown} failed:\n{result.stdout}{result.stderr}")
    return elapsed


def adapterctl_runs(root: Path, trust: Path, cache: Path) -> dict[str, float]:
    env = {**os.environ, "ADAPTERCTL_CACHE_DIR": str(cache)}
    verify = [BIN / "adapterctl", "verify", "--all", "--root", root, "--trust", trust]
    figures = {"adapterctl verify, 1 worker, cold": timed([*verify, "--workers", "1"], env)}
    shutil.rmtree(cache, ignore_errors=True)
    figures["adapterctl verify, parallel, cold"] = timed(verify, env)
    figures["adapterctl verify, parallel, warm"] = timed(verify, env)
    return figures


def model_signing_runs(pairs: list[tuple[Path, Path]], public: Path) -> dict[str, float]:
    one_by_one = 0.0
    for artifact, bundle in pairs:
        command = [BIN / "model_signing", "verify", "key", artifact, "--signature", bundle]
        one_by_one += timed([*command, "--public_key", public])
    listing = public.parent / "pairs.tsv"
    listing.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    in_process = timed([sys.executable, "-c", LIBRARY_LOOP, public, listing])
    return {
        "model_signing verify, one by one": one_by_one,
        "model-signing API, one process": in_process,
    }


def report(figures: dict[str, float], count: int, size: int) -> None:
    cores = len(os.sched_getaffinity(0))
    print(f"{count} signed revisions of {size:,} bytes each, {cores} cores")
    for label, seconds in figures.items():
        print(f"{label:40}{seconds:9.2f} s {seconds / count * 1000:9.2f} ms/revision")
    ours = figures["adapterctl verify, parallel, warm"]
    cold = figures["adapterctl verify, parallel, cold"]
    theirs = figures["model_signing verify, one by one"]
    ratio = theirs / ours
    verdict = "ok" if ratio >= 3 else "BELOW TARGET"
    print(f"ratio model_signing one by one / adapterctl warm: {ratio:6.1f}x (≥ 3: {verdict})")
    print(f"ratio model_signing one by one / adapterctl cold: {theirs / cold:6.1f}x")
    api = figures["model-signing API, one process"]
    print(f"ratio model-signing API loop / adapterctl warm:   {api / ours:6.1f}x")
    figure("verify", f"{count} signed revisions", f"{ours:.2f} s warm, {cold:.2f} s cold",
           peer=f"model_signing CLI {theirs:.1f} s, API loop {api:.2f} s",
           ratio=f"{ratio:.1f}×", target="≥ 3×", met=ratio >= 3)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--revisions", type=int, default=200)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=None, help="Where to build (default: tmp).")
    args = parser.parse_args()
    hidden = args.hidden_size
    base = BaseSpec(arch="llama", hidden_size=hidden, intermediate_size=2 * hidden)
    with tempfile.TemporaryDirectory(prefix="adapterctl-bench-verify-", dir=args.dir) as tmp:
        root = Path(tmp) / "registry"
        pairs = build(root, args.revisions, base, args.rank)
        public = Path(tmp) / "signer.pub"
        trust = Path(tmp) / "trust.yaml"
        trust.write_text(f"signers:\n  - {{identity: {IDENTITY}, key: {public}}}\n")
        figures = adapterctl_runs(root, trust, Path(tmp) / "cache")
        figures |= model_signing_runs(pairs, public)
        size = sum(path.stat().st_size for path in pairs[0][0].iterdir())
        report(figures, args.revisions, size)


if __name__ == "__main__":
    main()
