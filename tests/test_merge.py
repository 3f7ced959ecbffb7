"""``adapterctl merge``, the merged-base gate (``check --base``), the merge chain in
``validate``, the renders of a route to the merged base, and the source line's golden suites
on the merged base served alone (reference node and real vLLM): the example kit's
support-bot@1.1.0 merged into tiny-llama@r1 with PEFT, for real, on the CPU."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import peft
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from safetensors.numpy import load_file

from adapterctl.cli.app import main
from adapterctl.serve.api import create_app
from adapterctl.serve.engine import Engine
from tests.conftest import REPO, copy_registry, isolate_git
from tests.refnode import serving_app
from tests.test_signing_attacks import write_trust
from tests.test_signing_pki import IDENTITY
from tests.vllmnode import API_KEY, VllmServer, require_vllm

EXAMPLE_KEY = REPO / "examples/keys/train-pipeline.pem"
EXAMPLE_PUB = REPO / "examples/keys/train-pipeline.pub"
MERGER = ("Ann Merger", "ann@example.internal")
MERGE = ("merge", "support-bot@1.1.0", "--name", "support-bot-merged", "--revision", "r1",
         "--trigger", "latency", "--reason", "p95 budget 300 ms; adapter path 340 ms (OPS-12)")  # fmt: skip
MERGED = "bases/support-bot-merged/r1.yaml"


@dataclass(frozen=True)
class World:
    root: Path
    trust: Path
    out: str
    """What merge printed."""

    def manifest(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((self.root / MERGED).read_text())
        return loaded

    def stored(self, digest: str) -> Path:
        return self.root / "examples/store/sha256" / digest.removeprefix("sha256:")

    def copy(self, target: Path) -> World:
        shutil.copytree(self.root, target)
        return World(target, self.trust, self.out)


def _identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", MERGER[0])
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", MERGER[1])


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The example registry with support-bot@1.1.0 merged (once for the module)."""
    tmp = tmp_path_factory.mktemp("merge")
    root = copy_registry(tmp / "registry", with_store=True)
    trust = write_trust(tmp / "verifier", f"{{identity: {IDENTITY}, key: {EXAMPLE_PUB}}}")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        _identity(patch)
        patch.setenv("XDG_CACHE_HOME", str(tmp / "cache"))
        patch.setenv("ADAPTERCTL_CACHE_DIR", str(tmp / "cache/adapterctl"))
        code = main([*MERGE, "--trust", str(trust), "--root", str(root)])
    assert code == 0, out.getvalue()
    return World(root, trust, out.getvalue())


@pytest.fixture
def world(merged: World, tmp_path: Path) -> World:
    """A copy of the merged world a test may change."""
    return merged.copy(tmp_path / "registry")


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# --- the merge -------------------------------------------------------------------------


def test_merge_records_its_sources_by_digest(merged: World) -> None:
    record = merged.manifest()
    source = record["merge"]["source"]
    adapter = yaml.safe_load((merged.root / "adapters/support-bot/1.1.0.yaml").read_text())
    base = yaml.safe_load((merged.root / "bases/tiny-llama/r1.yaml").read_text())
    assert source == {
        "adapter": {"name": "support-bot", "version": "1.1.0"},
        "manifest_digest": sha256(merged.root / "adapters/support-bot/1.1.0.yaml"),
        "artifact_digest": adapter["artifact"]["digest"],
        "signature_digest": sha256(merged.root / "adapters/support-bot/1.1.0.sigstore.json"),
        "base": {"name": "tiny-llama", "revision": "r1"},
        "base_weights": base["weights_artifact"],
        "base_config_digest": base["config_digest"],
    }
    assert {k: v for k, v in record["merge"].items() if k != "source"} == {
        "method": "peft-merge-and-unload",
        "dtype": "float16",
        "peft_version": peft.__version__,
        "tolerance": 0.05,
        "trigger": "latency",
        "reason": "p95 budget 300 ms; adapter path 340 ms (OPS-12)",
        "merged_by": "Ann Merger <ann@example.internal>",
    }
    for field in ("tokenizer_digest", "chat_template_digest", "tokenizer_artifact",
                  "shapes", "vocab_size", "architecture"):  # fmt: skip
        assert record[field] == base[field], field
    assert record["source"] == "merge of support-bot@1.1.0 into tiny-llama@r1"
    lines = merged.out.splitlines()
    assert lines[0] == f"wrote {MERGED} (weights {record['weights_artifact']}, float16)"
    assert re.fullmatch(
        r"equivalence: max \|Δlogit\| [0-9.e-]+ over \d+ positions of 14 sequences, "
        r"top-1 agreement 100\.0%; tolerance 0\.05",
        lines[1],
    )
    assert (
        lines[2]
        == "next: adapterctl sign support-bot-merged@r1 --base --key KEY, then a pull request"
    )


def test_the_merged_weights_are_the_base_plus_the_scaled_lora_product(merged: World) -> None:
    """Checked by hand, without PEFT: W' = W + (alpha / r) · B · A, stored in float16."""
    record = merged.manifest()
    adapter = yaml.safe_load((merged.root / "adapters/support-bot/1.1.0.yaml").read_text())
    lora_dir = merged.stored(adapter["artifact"]["digest"])
    config = json.loads((lora_dir / "adapter_config.json").read_text())
    lora = load_file(lora_dir / "adapter_model.safetensors")
    base = load_file(merged.stored(record["merge"]["source"]["base_weights"]) / "model.safetensors")
    out = load_file(merged.stored(record["weights_artifact"]) / "model.safetensors")
    scale = config["lora_alpha"] / config["r"]
    checked = 0
    for module in config["target_modules"]:
        name = f"model.layers.0.self_attn.{module}" if "proj" in module else module
        prefix = f"base_model.model.{name}"
        if f"{prefix}.lora_A.weight" not in lora:
            continue
        a = lora[f"{prefix}.lora_A.weight"].astype(np.float32)
        b = lora[f"{prefix}.lora_B.weight"].astype(np.float32)
        want = base[f"{name}.weight"].astype(np.float32) + scale * (b @ a)
        got = out[f"{name}.weight"]
        assert got.dtype == np.float16
        np.testing.assert_allclose(got.astype(np.float32), want, rtol=2**-10, atol=1e-4)
        assert not np.allclose(got.astype(np.float32), base[f"{name}.weight"], atol=1e-4)
        checked += 1
    assert checked >= 1


def test_a_merged_base_validates_passes_its_gate_and_is_signed_like_any_artifact(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "validate", "--root", world.root)[0] == 0
    code, out, _ = cli(capsys, "check", "--base", "support-bot-merged@r1", "--root", world.root)
    assert code == 0
    assert re.search(
        r"info  merge/equivalent\n  equivalent to base \+ support-bot@1\.1\.0: max \|Δlogit\| "
        r"[0-9.e-]+ over \d+ positions of 14 sequences, top-1 agreement 100\.0% "
        r"\(tolerance 0\.05, float16\)", out)  # fmt: skip
    code, out, _ = cli(capsys, "sign", "support-bot-merged@r1", "--base", "--key", EXAMPLE_KEY,
                       "--root", world.root)  # fmt: skip
    assert code == 0
    assert out.splitlines()[0] == (
        "signed support-bot-merged@r1 (key mode): wrote bases/support-bot-merged/r1.sigstore.json"
    )
    code, out, _ = cli(capsys, "verify", "--all", "--base", "--trust", world.trust,
                       "--root", world.root)  # fmt: skip
    assert (code, out) == (0, "✓ verify: 1 file, no problems\n")
    weights = world.stored(world.manifest()["weights_artifact"]) / "model.safetensors"
    flip_last_byte(weights)
    code, out, _ = cli(capsys, "verify", "support-bot-merged@r1", "--base", "--trust", world.trust,
                       "--root", world.root, "--no-cache")  # fmt: skip
    assert code == 1
    assert "error  signing/" in out or "error  trust/" in out, out


# --- what merge refuses ----------------------------------------------------------------


def _refused(capsys: pytest.CaptureFixture[str], world: World, *args: str) -> str:
    """Run merge expecting exit 1 and nothing new in bases/ or the store; its stderr."""
    before = sorted(p.relative_to(world.root) for p in world.root.rglob("*"))
    code, out, err = cli(capsys, *args, "--trust", world.trust, "--root", world.root)
    assert code == 1, out + err
    assert sorted(p.relative_to(world.root) for p in world.root.rglob("*")) == before
    return err + out


@pytest.fixture
def clean(tmp_path: Path, merged: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The example registry before any merge."""
    _identity(monkeypatch)
    root = copy_registry(tmp_path / "registry", with_store=True)
    return World(root, merged.trust, "")


def test_merge_refuses_a_revision_that_is_not_registered(
    clean: World, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a if a != "support-bot@1.1.0" else "support-bot@9.9.9" for a in MERGE]
    assert _refused(capsys, clean, *args) == (
        "adapterctl: error: cannot merge support-bot@9.9.9: adapters/support-bot/9.9.9.yaml does not exist\n"
    )


def test_merge_refuses_an_unsigned_revision(
    clean: World, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean.root / "adapters/support-bot/1.1.0.sigstore.json").unlink()
    assert _refused(capsys, clean, *MERGE) == (
        "adapterctl: error: cannot merge support-bot@1.1.0: it is not signed "
        "(adapters/support-bot/1.1.0.sigstore.json does not exist)\n"
        "  → sign it first: adapterctl sign support-bot@1.1.0 --key KEY\n"
    )


def test_merge_refuses_a_signature_the_verifier_does_not_trust(
    clean: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "other.pub"
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    other = write_trust(
        tmp_path / "other", f"{{identity: someone@example.internal, key: {public}}}"
    )
    text = _refused(capsys, World(clean.root, other, ""), *MERGE)
    assert text.startswith("adapters/support-bot/1.1.0.sigstore.json")
    assert text.endswith("✗ merge: 1 error in 1 file\n")


def test_merge_refuses_a_revision_that_fails_its_gates(
    clean: World, capsys: pytest.CaptureFixture[str]
) -> None:
    base = clean.root / "bases/tiny-llama/r1.yaml"
    base.write_text(
        base.read_text().replace("self_attn.q_proj: [128, 128]", "self_attn.q_proj: [96, 128]")
    )
    assert _refused(capsys, clean, *MERGE) == (
        "adapterctl: error: cannot merge support-bot@1.1.0: it does not pass its gates "
        "(compat/shape: tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight' "
        "has shape [128, 8]; the base and rank need [96, 8] [out_features, rank])\n"
        "  → adapterctl check support-bot@1.1.0 shows every finding\n"
    )


def test_merge_refuses_a_base_without_stored_weights(
    clean: World, capsys: pytest.CaptureFixture[str]
) -> None:
    base = clean.root / "bases/tiny-llama/r1.yaml"
    base.write_text(re.sub(r"weights_artifact: .*\n", "", base.read_text()))
    assert _refused(capsys, clean, *MERGE) == (
        "adapterctl: error: cannot merge support-bot@1.1.0: bases/tiny-llama/r1.yaml has no "
        "weights in the store file://examples/store\n"
        "  → register the base with --store-weights where merged models are built\n"
    )


def test_merge_refuses_a_merge_outside_its_tolerance_with_the_figures(
    clean: World, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _refused(capsys, clean, *MERGE, "--tolerance", "1e-9")
    assert re.fullmatch(
        r"adapterctl: error: the merged model is not equivalent to support-bot@1\.1\.0 on tiny-llama@r1: "
        r"max \|Δlogit\| [0-9.e-]+ over \d+ positions of 14 sequences, top-1 agreement 100\.0%, "
        r"above the float16 tolerance 1e-09\n"
        r"  → nothing was stored; merge in float32 \(--dtype float32\), or report a PEFT bug\n",
        text,
    ), text


def test_merge_refuses_an_existing_base_revision(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _refused(capsys, world, *MERGE) == (
        "adapterctl: error: bases/support-bot-merged/r1.yaml already exists\n"
        "  → manifests are immutable: register a new version instead\n"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--trigger",
            "cheaper",
            "Invalid value for '--trigger': Value error, 'cheaper' is not "
            "one of 'serving-cost', 'latency', 'operational-simplicity'.",
        ),
        ("--tolerance", "0", "adapterctl: error: --tolerance: must be above 0, got 0\n"),
        (
            "--reason",
            " ",
            "adapterctl: error: --reason: say why the adapter is served merged (figures, ticket)\n",
        ),
        (
            "--name",
            "Support_Bot",
            "adapterctl: error: --name: 'Support_Bot' is not a valid base name: use lower-case "
            "letters, digits, '-' and '.' (a DNS-1123 subdomain: at most 253 characters, each "
            "dot-separated part starting and ending with a letter or digit), e.g. "
            "llama-3.1-8b-instruct\n",
        ),
        (
            "--dtype",
            "int8",
            "Invalid value for '--dtype': Value error, 'int8' is not one of "
            "'float32', 'float16', 'bfloat16'.",
        ),
    ],
)
def test_merge_usage_errors(
    clean: World, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    args = list(MERGE)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    code, _, err = cli(capsys, *args, "--trust", clean.trust, "--root", clean.root)
    assert code == 2
    assert message in err, err


# --- the chain, in validate and in the gate ------------------------------------------------


def test_validate_refuses_a_merged_base_whose_source_is_unsigned_or_changed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = world.root / "adapters/support-bot/1.1.0.sigstore.json"
    recorded = sha256(bundle)
    original = bundle.read_bytes()
    bundle.unlink()
    code, out, _ = cli(capsys, "validate", "--root", world.root)
    assert (code, out) == (1, (
        f"{MERGED}:36 $.merge.source.signature_digest  error  references/unsigned-merge-source\n"
        f"  {MERGED} was merged from support-bot@1.1.0, which is not signed: "
        "adapters/support-bot/1.1.0.sigstore.json does not exist\n"
        "  → a merged base comes only from a signed revision: restore "
        "adapters/support-bot/1.1.0.sigstore.json\n\n"
        "✗ validate: 1 error in 19 files\n"
    ))  # fmt: skip
    bundle.write_bytes(original + b"\n")
    code, out, _ = cli(capsys, "validate", "--root", world.root)
    assert (code, out) == (1, (
        f"{MERGED}:36 $.merge.source.signature_digest  error  references/merge-source-changed\n"
        f"  adapters/support-bot/1.1.0.sigstore.json is not the bundle {MERGED} was merged from "
        f"({sha256(bundle)}, recorded {recorded})\n"
        "  → a signature bundle is never replaced after a merge: restore it, or merge again\n\n"
        "✗ validate: 1 error in 19 files\n"
    ))  # fmt: skip


def test_the_gate_catches_changed_fingerprints_and_weights(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = world.root / MERGED
    text = manifest.read_text()
    zero = "sha256:" + "0" * 64
    manifest.write_text(
        re.sub(r"chat_template_digest: sha256:\w+", f"chat_template_digest: {zero}", text)
    )
    code, out, _ = cli(capsys, "check", "--base", "support-bot-merged@r1", "--root", world.root)
    source = world.manifest()["merge"]["source"]
    template = yaml.safe_load((world.root / "bases/tiny-llama/r1.yaml").read_text())[
        "chat_template_digest"
    ]
    assert (code, out) == (1, (
        f"{MERGED}:9 $.chat_template_digest  error  merge/fingerprint-changed\n"
        f"  the chat template differs from the source base's ({zero}, source {template})\n\n"
        "✗ check: 1 error in 1 file\n"
    ))  # fmt: skip
    assert source["adapter"] == {"name": "support-bot", "version": "1.1.0"}
    manifest.write_text(text)
    digest = world.manifest()["weights_artifact"]
    weights = world.stored(digest) / "model.safetensors"
    flip_last_byte(weights)
    code, out, _ = cli(capsys, "check", "--base", "support-bot-merged@r1", "--root", world.root)
    assert code == 1
    assert out.startswith(
        f"{MERGED}:11 $.weights_artifact  error  merge/weights-changed\n"
        "  the stored merged weights hash to sha256:"
    )
    assert out.endswith(f", not to the manifest's {digest}\n\n✗ check: 1 error in 1 file\n")


# --- routing an alias to the merged base ------------------------------------------------

CANARY = """routes:
  support-bot:
    - {version: 1.1.0, weight: 75}
    - {base: support-bot-merged@r1, weight: 25}
"""


@pytest.fixture
def routed(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The merged world where staging sends a quarter of support-bot to the merged base."""
    isolate_git(monkeypatch, MERGER)
    _route_merged(world)
    return world


def _route_merged(world: World) -> None:
    """staging sends a quarter of support-bot to the merged base, committed in git."""
    path = world.root / "environments/staging/environment.yaml"
    text = path.read_text()
    path.write_text(text.replace("routes:\n  support-bot:\n    - {version: 1.1.0, weight: 100}\n",
                                 CANARY))  # fmt: skip
    assert CANARY in path.read_text()
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "Registry")):
        subprocess.run(["git", *args], cwd=world.root, check=True, capture_output=True)


def test_litellm_renders_a_merged_base_as_a_deployment_of_the_alias_on_its_pool(
    routed: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "render", "--env", "staging", "--target", "litellm",
                         "--pool-api-base", "support-bot-merged@r1=http://merged-pool:8000/v1",
                         "--root", routed.root)  # fmt: skip
    assert code == 0, err
    models = yaml.safe_load(out)["model_list"]
    support = [m["litellm_params"] for m in models if m["model_name"] == "support-bot"]
    assert support == [
        {"model": "hosted_vllm/support-bot@1.1.0", "api_base": "os.environ/VLLM_API_BASE",
         "weight": 75},
        {"model": "hosted_vllm/support-bot-merged@r1", "api_base": "http://merged-pool:8000/v1",
         "weight": 25},
    ]  # fmt: skip
    pinned = [m for m in models if m["model_name"] == "support-bot-merged@r1"]
    assert [m["litellm_params"]["api_base"] for m in pinned] == ["http://merged-pool:8000/v1"]


def test_adapter_targets_name_the_merged_base_they_leave_to_its_own_nodes(
    routed: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "render", "--env", "staging", "--target", "vllm-args",
                         "--root", routed.root)  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[4:8] == [
        "#",
        "# bases routed as models of their own, served by nodes of their own (not these):",
        "# start each with its weights and --served-model-name NAME@REVISION",
        "#   support-bot-merged@r1 for support-bot (25 %)",
    ]
    assert lines[-1].startswith("--enable-lora ")
    assert "support-bot-merged" not in lines[-1]  # no LoRA module for it


def test_a_pool_api_base_must_name_a_routed_base(
    routed: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "render", "--env", "staging", "--target", "litellm",
                         "--pool-api-base", "tiny-llama@r2=http://x:8000/v1",
                         "--root", routed.root)  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "adapterctl: error: --pool-api-base tiny-llama@r2=http://x:8000/v1: staging routes no "
        "base tiny-llama@r2 (its routed bases: support-bot-merged@r1)\n"
    )


# --- the source line's golden suites on the merged base served alone -------------------------
# (``eval NAME@REVISION``: on the reference node and on real vLLM; the evidence lands where
# ``promote`` of the merged base looks for it)

MERGED_NAME = "support-bot-merged@r1"


@pytest.fixture(params=["reference", "vllm"])
def merged_endpoint(
    request: pytest.FixtureRequest,
    merged: World,
    tmp_path: Path,
) -> Iterator[str]:
    """A node serving the merged weights alone as ``support-bot-merged@r1``: its /v1 URL."""
    manifest = merged.manifest()
    weights = merged.stored(str(manifest["weights_artifact"]))
    if request.param == "reference":
        with serving_app(create_app(Engine(weights, served_model_name=MERGED_NAME))) as url:
            yield f"{url}/v1"
        return
    require_vllm()
    server = VllmServer(weights, MERGED_NAME, tmp_path / "vllm")
    server.start()
    try:
        yield f"{server.url}/v1"
    finally:
        server.stop()


def test_the_source_lines_golden_suites_pass_on_the_merged_base_served_alone(
    world: World,
    merged_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = world.root / "reports/golden" / f"{MERGED_NAME}.json"
    code = main(["eval", MERGED_NAME, "--env", "staging", "--endpoint", merged_endpoint,
                 "--api-key", API_KEY, "--baseline", "none", "--root", str(world.root),
                 "--format", "json"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    summaries = [f["message"] for f in report["findings"] if f["rule"] == "golden/summary"]
    assert summaries == [f"suite refunds: {MERGED_NAME} 100%"]
    document = json.loads(evidence.read_text())
    assert document["candidate"] == MERGED_NAME
    assert document["baseline"] is None
