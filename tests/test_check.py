"""``adapterctl check``: integrity and compat of registered revisions, per environment."""

from __future__ import annotations

import json
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import git
import pytest

from adapterctl.cli.app import main
from adapterctl.registry import Registry
from examples.kit import AdapterSpec, BaseSpec, make_adapter, make_base
from tests.conftest import BUCKET, REPO, copy_registry

STAGING = "environments/staging/environment.yaml"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    return root


def _check(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[tuple[str, str, str]]]:
    code = main(["check", *args, "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    return code, [(f["rule"], f["path"], f["message"]) for f in findings]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _serve_base(root: Path, revision: str) -> None:
    _edit(
        root / STAGING,
        "base: {name: tiny-llama, revision: r1}",
        f"base: {{name: tiny-llama, revision: {revision}}}",
    )


def _register_base(
    root: Path, capsys: pytest.CaptureFixture[str], spec: BaseSpec, revision: str
) -> None:
    model = root.parent / f"base-{revision}"
    make_base(model, spec)
    assert main(["register-base", str(model), "--name", "tiny-llama", "--revision", revision]) == 0
    capsys.readouterr()


def test_every_example_revision_passes(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = [
        "support-bot@1.0.0",
        "support-bot@1.1.0",
        "support-bot@1.2.0",
        "sql-helper@1.0.0",
        "sql-helper@1.1.0",
    ]
    assert _check(capsys, *targets) == (0, [])


def test_one_flipped_byte_is_caught(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    revision = Registry.load(workspace).revision("support-bot", "1.1.0")
    assert revision is not None
    stored = (
        workspace
        / "examples/store/sha256"
        / revision.artifact.digest[7:]
        / "adapter_model.safetensors"
    )
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0x01
    stored.write_bytes(bytes(data))
    expected = revision.artifact.files["adapter_model.safetensors"].digest
    code, findings = _check(capsys, "support-bot@1.1.0")
    assert code == 1
    assert len(findings) == 1
    rule, path, message = findings[0]
    assert (rule, path) == (
        "integrity/digest-mismatch",
        "$.artifact.files['adapter_model.safetensors'].digest",
    )
    assert message.startswith("adapter_model.safetensors hashes to sha256:")
    assert message.endswith(f"; the manifest records {expected}")


def test_missing_artifact(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    revision = Registry.load(workspace).revision("sql-helper", "1.0.0")
    assert revision is not None
    folder = workspace / "examples/store/sha256" / revision.artifact.digest[7:]
    folder.chmod(0o755)
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    assert _check(capsys, "sql-helper@1.0.0") == (
        1,
        [
            (
                "integrity/missing-artifact",
                "$.artifact.digest",
                f"artifact {revision.artifact.digest} is not in the store file://examples/store",
            )
        ],
    )


def test_rank_above_the_environment_limit(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(workspace / STAGING, "max_lora_rank: 64", "max_lora_rank: 8")
    assert _check(capsys, "support-bot@1.2.0", "--env", "staging") == (
        1,
        [
            (
                "compat/rank-limit",
                "$.lora.rank",
                "rank 16 is above environment staging's max_lora_rank 8",
            )
        ],
    )


def test_manifest_that_does_not_describe_its_artifact(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(workspace / "adapters/support-bot/1.0.0.yaml", "  alpha: 16.0", "  alpha: 32.0")
    assert _check(capsys, "support-bot@1.0.0") == (
        1,
        [
            (
                "compat/config-mismatch",
                "$.lora.alpha",
                "adapter_config.json has alpha 16.0; the manifest records 32.0",
            )
        ],
    )


def test_chat_template_drift_is_explained(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_base(workspace, "r2")
    code, findings = _check(capsys, "support-bot@1.1.0", "--env", "staging")
    assert code == 1
    assert [(rule, path) for rule, path, _ in findings] == [
        ("compat/base-mismatch", "$.base"),
        ("compat/template-drift", "$.chat_template_digest"),
    ]
    assert (
        findings[0][2]
        == "trained on base tiny-llama@r1, but environment staging serves tiny-llama@r2"
    )
    assert findings[1][2] == (
        "chat template behaves differently on the environment's base tiny-llama@r2: "
        "rendered chat template (with a system message) at 95: "
        "trained with '\\n<|im_start|>user\\nBonjour ! Qu', "
        "served '<|im_start|>user\\nBonjour ! Que' (near 'Réponds en français.<|im_end|>')"
    )


def test_tokenizer_drift_is_explained(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _register_base(workspace, capsys, BaseSpec(arch="llama", vocab_size=400), "r3")
    _serve_base(workspace, "r3")
    code, findings = _check(capsys, "support-bot@1.1.0", "--env", "staging")
    assert code == 1
    drift = [f for f in findings if f[0] == "compat/tokenizer-drift"]
    assert len(drift) == 1
    assert drift[0][1] == "$.tokenizer_digest"
    assert drift[0][2] == (
        "tokenizer behaves differently on the environment's base tiny-llama@r3: token at 18: "
        "trained with \"443 'row'\", served \"86 'r'\" "
        "(near 'Hello, world! The quick brown fox jumps over the lazy dog.')"
    )


def test_same_behaviour_with_different_bytes_is_a_warning(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = BaseSpec(arch="llama", template_location="jinja")
    _register_base(workspace, capsys, spec, "r4")
    tokenizer_config = workspace.parent / "base-r4/tokenizer_config.json"
    assert "chat_template" not in json.loads(tokenizer_config.read_text())
    _serve_base(workspace, "r4")
    code, findings = _check(capsys, "support-bot@1.1.0", "--env", "staging")
    assert [rule for rule, _, _ in findings] == ["compat/base-mismatch"]
    assert code == 1


def test_quantization_mismatch(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quantized = BaseSpec(
        arch="llama", quantization={"quant_method": "gptq", "bits": 4, "group_size": 128}
    )
    _register_base(workspace, capsys, quantized, "q4")
    _serve_base(workspace, "q4")
    code, findings = _check(capsys, "support-bot@1.1.0", "--env", "staging")
    assert code == 1
    assert (
        "compat/quantization",
        "$.quantization",
        "trained against quantization none, but the environment's base tiny-llama@q4 is "
        "gptq 4-bit group size 128",
    ) in findings


def test_changed_checks_what_a_pull_request_adds(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = git.Repo.init(workspace, initial_branch="main")
    repo.git.add(A=True)
    repo.git.commit("-m", "registry", "--no-gpg-sign", author="T <t@example.invalid>")
    source = (workspace / "adapters/support-bot/1.2.0.yaml").read_text()
    (workspace / "adapters/support-bot/1.3.0.yaml").write_text(source.replace("1.2.0", "1.3.0"))
    code, findings = _check(capsys, "--changed", "--against", "main")
    assert (code, findings) == (0, [])
    assert main(["check", "--changed", "--against", "main"]) == 0
    assert capsys.readouterr().out == "✓ check: 1 file, no problems\n"


def test_usage_errors(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: name at least one NAME@VERSION or --base NAME@REV, or use --changed "
        "--against REF\n"
    )
    assert main(["check", "support-bot"]) == 2
    assert "expected NAME@VERSION" in capsys.readouterr().err
    assert main(["check", "support-bot@9.9.9"]) == 2
    assert capsys.readouterr().err == (
        "adapterctl: error: no revision support-bot@9.9.9: adapters/support-bot/9.9.9.yaml does not exist\n"
    )


def test_register_and_check_through_an_s3_store(
    workspace: Path, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = [
        "--store",
        f"s3://{BUCKET}/check-{workspace.parent.name}",
        "--endpoint-url",
        moto_endpoint,
    ]
    adapter = workspace.parent / "adapter"
    make_adapter(adapter, BaseSpec(arch="llama"), AdapterSpec(seed=11))
    register = [
        "register",
        str(adapter),
        "--name",
        "sql-helper",
        "--version",
        "2.0.0",
        "--base",
        "tiny-llama@r1",
        "--description",
        "Through S3.",
        "--training",
        str(REPO / "tests/data/training.yaml"),
        *store,
    ]
    assert main(register) == 0
    capsys.readouterr()
    assert _check(capsys, "sql-helper@2.0.0", *store) == (0, [])
    revision = Registry.load(workspace).revision("sql-helper", "2.0.0")
    assert revision is not None
    key = f"check-{workspace.parent.name}/sha256/{revision.artifact.digest[7:]}/adapter_model.safetensors"
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    body = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[-1] ^= 0x01
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    code, findings = _check(capsys, "sql-helper@2.0.0", *store)
    assert code == 1
    assert [rule for rule, _, _ in findings] == ["integrity/digest-mismatch"]
