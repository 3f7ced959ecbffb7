"""``adapterctl sign`` / ``verify``: the example registry, usage errors, trust files, stores."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from adapterctl.cli.app import main
from adapterctl.gates import trust as gate
from adapterctl.policy.signers import read_signers
from adapterctl.registry import Registry
from adapterctl.store.s3store import S3Store
from tests.conftest import BUCKET, REPO, copy_registry
from tests.test_signing_attacks import (
    BUNDLE,
    DIGEST_AT,
    REVISION,
    World,
    verify,
    write_trust,
)
from tests.test_signing_pki import IDENTITY

EXAMPLES = [
    "sql-helper@1.0.0",
    "sql-helper@1.1.0",
    "support-bot@1.0.0",
    "support-bot@1.1.0",
    "support-bot@1.2.0",
]
EXAMPLE_KEY = REPO / "examples/keys/train-pipeline.pem"
EXAMPLE_PUB = REPO / "examples/keys/train-pipeline.pub"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """The example registry as committed (signed with the example key), trusted from outside."""
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    trust = write_trust(tmp_path / "verifier", f"{{identity: {IDENTITY}, key: {EXAMPLE_PUB}}}")
    return World(root, trust, EXAMPLE_KEY, Path(), "")


def _usage(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    return capsys.readouterr().err


# --- the example registry --------------------------------------------------------------


def test_every_example_revision_is_signed_and_verifies(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for env in ("staging", "prod"):
        assert verify(capsys, world, "--all", "--env", env) == (0, [])
    for name, version in (target.split("@") for target in EXAMPLES):
        assert (REPO / f"adapters/{name}/{version}.sigstore.json").is_file()


def test_verify_writes_who_signed_each_revision_for_the_policy_check(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (world.root / "adapters/support-bot/1.2.0.sigstore.json").write_text("{}\n")  # refused
    signers = tmp_path / "ci/signers.yaml"
    signers.parent.mkdir()
    code, _ = verify(capsys, world, "--all", "--signers-out", str(signers))
    assert code == 1
    accepted = [target for target in EXAMPLES if target != "support-bot@1.2.0"]
    assert signers.read_text() == "".join(f'{target}: "{IDENTITY}"\n' for target in accepted)
    read = read_signers(signers)
    assert read.of("support-bot", "1.1.0") == (IDENTITY,)
    assert read.of("support-bot", "1.2.0") == ()


def test_the_example_trust_file_verifies_the_repository_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trust = REPO / "examples/trust.yaml"
    args = ["verify", "--all", "--root", str(REPO), "--trust", str(trust), "--env", "prod"]
    assert main(args) == 0
    assert capsys.readouterr().out == (
        f"{trust}  warning  trust/config\n"
        "  the trust file is inside the repository being verified\n"
        "  → outside examples, keep it in the verifier's own configuration: "
        "a repository cannot vouch for itself\n\n"
        "✓ verify: 1 warning in 5 files\n"
    )


def test_verification_runs_in_parallel_processes(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (world.root / BUNDLE).write_text("{")
    sequential = verify(capsys, world, "--all", "--workers", "1")
    monkeypatch.setattr(gate, "PARALLEL_THRESHOLD", 1)
    assert verify(capsys, world, "--all", "--workers", "2") == sequential
    assert verify(capsys, world, "--all", "--workers", "2", "--no-cache") == sequential
    assert sequential == (
        1,
        [
            (
                "trust/bundle-invalid",
                BUNDLE,
                "truncated: the JSON stops after 1 bytes, mid-document",
            )
        ],
    )


def test_junit_and_markdown_reports(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.root / BUNDLE).unlink()
    args = ["verify", *EXAMPLES[:3], REVISION, "--trust", str(world.trust)]
    assert main([*args, "--format", "junit"]) == 1
    suite = ET.fromstring(capsys.readouterr().out).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("4", "1")
    assert main([*args, "--format", "markdown"]) == 1
    assert "trust/signature-missing" in capsys.readouterr().out


# --- signing -----------------------------------------------------------------------------


def test_an_existing_bundle_is_kept_without_force(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (world.root / BUNDLE).read_bytes()
    assert main(["sign", REVISION, "--key", str(EXAMPLE_KEY)]) == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: {REVISION} is already signed: {BUNDLE} exists\n"
        "  → pass --force to replace the signature\n"
    )
    assert (world.root / BUNDLE).read_bytes() == before


def test_a_tampered_artifact_is_never_signed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    revision = Registry.load(world.root).revision("support-bot", "1.1.0")
    assert revision is not None
    folder = world.root / "examples/store/sha256" / revision.artifact.digest[7:]
    folder.chmod(0o755)
    (folder / "README.md").write_text("added\n")
    before = (world.root / BUNDLE).read_bytes()
    assert main(["sign", REVISION, "--key", str(EXAMPLE_KEY), "--force"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("adapterctl: error: the stored artifact hashes to sha256:")
    assert err.endswith(
        f", not to the manifest's {revision.artifact.digest}\n"
        f"  → run adapterctl check {REVISION}; never sign it\n"
    )
    assert (world.root / BUNDLE).read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose one way to sign: --key PEM, --certificate PEM --key PEM, "),
        (["--key", "K", "--sigstore"], "choose one way to sign"),
        (["--pkcs11-uri", "pkcs11:token=x", "--chain", "K"], "--chain goes with --certificate"),
        (["--sigstore"], "--sigstore needs --trust-config FILE"),
        (["--certificate", "K"], "--certificate needs --key PEM"),
        (["--certificate", "K", "--key", "K"], "--certificate needs --chain PEM"),
    ],
    ids=["none", "two", "chain", "keyless", "cert-key", "cert-chain"],
)
def test_sign_usage_errors(
    world: World, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    key = str(EXAMPLE_KEY)
    args = [key if arg == "K" else arg for arg in args]
    assert _usage(capsys, "sign", REVISION, *args).startswith(f"adapterctl: error: {message}")


def test_pkcs11_without_its_extra_is_a_clear_error(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("PyKCS11") is not None:
        pytest.skip("PyKCS11 is installed: see test_signing_pkcs11.py")
    assert main(["sign", REVISION, "--pkcs11-uri", "pkcs11:token=none;object=none", "--force"]) == 1
    assert capsys.readouterr().err == (
        "adapterctl: error: cannot sign with the PKCS#11 key: PKCS #11 functionality requires "
        "the 'pkcs11' extra. Install with 'pip install model-signing[pkcs11]'.\n"
    )


# --- verify: usage and trust files -----------------------------------------------------


def test_verify_usage_errors(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    trust = str(world.trust)
    assert "pass --trust FILE or set ADAPTERCTL_TRUST" in _usage(capsys, "verify", REVISION)
    assert "name at least one NAME@VERSION, or use --all" in _usage(
        capsys, "verify", "--trust", trust
    )
    assert "not both" in _usage(capsys, "verify", REVISION, "--all", "--trust", trust)
    assert _usage(capsys, "verify", "support-bot@9.9.9", "--trust", trust) == (
        "adapterctl: error: no valid revision support-bot@9.9.9 at adapters/support-bot/9.9.9.yaml\n"
    )
    assert _usage(capsys, "verify", REVISION, "--trust", "nowhere.yaml") == (
        "adapterctl: error: --trust nowhere.yaml: no such file\n"
    )
    assert "no environment qa" in _usage(
        capsys, "verify", REVISION, "--trust", trust, "--env", "qa"
    )


def test_the_trust_file_comes_from_the_environment_variable(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADAPTERCTL_TRUST", str(world.trust))
    assert main(["verify", REVISION]) == 0
    assert capsys.readouterr().out == "✓ verify: 1 file, no problems\n"


def _trust_findings(
    capsys: pytest.CaptureFixture[str], world: World, body: str
) -> list[tuple[str, str, str]]:
    world.trust.write_text(body)
    code, findings = verify(capsys, world, REVISION)
    assert code == 1
    return findings


def test_a_trust_file_with_two_modes_for_one_signer(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f"signers:\n  - identity: {IDENTITY}\n    key: a.pub\n    ca_roots: [root.pem]\n"
    assert _trust_findings(capsys, world, body) == [
        (
            "schema/invalid-value",
            f"{world.trust}:2 $.signers[0]",
            "give exactly one of key, ca_roots or trust_config (got key, ca_roots)",
        )
    ]


def test_a_trust_file_naming_a_key_that_is_not_ec(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    (world.trust.parent / "bogus.pub").write_text("-----BEGIN PUBLIC KEY-----\nnope\n")
    body = f"# the verifier's trust\nsigners:\n  - identity: {IDENTITY}\n    key: bogus.pub\n"
    assert _trust_findings(capsys, world, body) == [
        ("trust/config", f"{world.trust}:4 $.signers[0].key", "bogus.pub: not a PEM public key")
    ]


def test_a_trust_file_naming_a_key_of_another_type(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    (world.trust.parent / "ed.pub").write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    body = f"signers:\n  - identity: {IDENTITY}\n    key: ed.pub\n"
    assert _trust_findings(capsys, world, body) == [
        ("trust/config", f"{world.trust}:3 $.signers[0].key",
         "ed.pub: an Ed25519 key; trust files hold EC P-256, P-384 or P-521 keys")
    ]  # fmt: skip


def test_a_trust_file_with_a_missing_root(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    body = f"signers:\n  - {{identity: {IDENTITY}, ca_roots: [pki/root.pem]}}\n"
    assert _trust_findings(capsys, world, body) == [
        (
            "trust/config",
            f"{world.trust}:2 $.signers[0].ca_roots",
            "pki/root.pem: cannot be read (No such file or directory)",
        )
    ]


def test_an_environment_without_adapter_signers(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.root / "environments/prod/environment.yaml"
    text = env.read_text()
    env.write_text(text.replace('  adapter_signers: ["svc-train-pipeline@example.internal"]\n', ""))
    assert verify(capsys, world, REVISION, "--env", "prod") == (
        1,
        [
            (
                "trust/signer-not-allowed",
                "environments/prod/environment.yaml:14 $.promotion",
                "prod allows no adapter signer, so no revision can be verified for it",
            )
        ],
    )


# --- s3 ----------------------------------------------------------------------------------


def test_sign_and_verify_through_an_s3_store(
    world: World, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"sign-{world.root.parent.name}"
    store = ["--store", f"s3://{BUCKET}/{prefix}", "--endpoint-url", moto_endpoint]
    revision = Registry.load(world.root).revision("support-bot", "1.1.0")
    assert revision is not None
    digest = revision.artifact.digest
    local = world.root / "examples/store/sha256" / digest[7:]
    assert S3Store(BUCKET, prefix, store[1], endpoint_url=moto_endpoint).put(digest, local)
    assert main(["sign", REVISION, "--key", str(EXAMPLE_KEY), "--force", *store]) == 0
    capsys.readouterr()
    assert verify(capsys, world, REVISION, *store) == (0, [])
    key = f"{prefix}/sha256/{digest[7:]}/adapter_model.safetensors"
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    body = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[-1] ^= 0x01
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    code, findings = verify(capsys, world, REVISION, *store)
    assert (code, [(rule, where) for rule, where, _ in findings]) == (
        1,
        [("trust/artifact-mismatch", DIGEST_AT)],
    )
