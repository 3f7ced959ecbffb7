"""``adapterctl verify`` against every tampering of a signed revision (key mode)."""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from model_signing import hashing, signing

from adapterctl.cli.app import main
from adapterctl.registry import Registry
from tests.conftest import copy_registry
from tests.test_signing_pki import IDENTITY, write_key

REVISION = "support-bot@1.1.0"
MANIFEST = "adapters/support-bot/1.1.0.yaml"
BUNDLE = "adapters/support-bot/1.1.0.sigstore.json"
DIGEST_AT = f"{MANIFEST}:9 $.artifact.digest"
CHANGED = "the artifact changed after it was signed: do not serve it"
Finding = tuple[str, str, str]


@dataclass(frozen=True)
class World:
    root: Path
    trust: Path
    key: Path
    artifact: Path
    digest: str

    @property
    def bundle(self) -> Path:
        return self.root / BUNDLE


def write_trust(folder: Path, *signers: str) -> Path:
    """A trust file of YAML signer entries (one string each), outside the registry."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"  - {entry}\n" for entry in signers)
    path = folder / "trust.yaml"
    path.write_text(f"signers:\n{body}")
    return path


def verify(
    capsys: pytest.CaptureFixture[str], world: World, *args: str
) -> tuple[int, list[Finding]]:
    code = main(["verify", *args, "--trust", str(world.trust), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    return code, [(f["rule"], _where(f), f["message"]) for f in report["findings"]]


def _where(finding: dict[str, str | int | None]) -> str:
    where = str(finding["file"])
    if finding["line"] is not None:
        where += f":{finding['line']}"
    return f"{where} {finding['path']}" if finding["path"] else where


def sign(capsys: pytest.CaptureFixture[str], key: Path, *args: str) -> None:
    assert main(["sign", REVISION, "--key", str(key), "--force", *args]) == 0
    capsys.readouterr()


@pytest.fixture
def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> World:
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    key, public = write_key(tmp_path / "verifier", "pipeline")
    trust = write_trust(tmp_path / "verifier", f"{{identity: {IDENTITY}, key: pipeline.pub}}")
    revision = Registry.load(root).revision("support-bot", "1.1.0")
    assert revision is not None
    artifact = root / "examples/store/sha256" / revision.artifact.digest.removeprefix("sha256:")
    artifact.chmod(0o755)
    for item in artifact.iterdir():
        item.chmod(0o644)
    sign(capsys, key)
    assert public.is_file()
    return World(root, trust, key, artifact, revision.artifact.digest)


def test_a_signed_revision_verifies(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify(capsys, world, REVISION) == (0, [])


def test_one_flipped_byte_is_caught_even_with_a_warm_cache(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(capsys, world, REVISION) == (0, [])  # the digest cache now knows the files
    weights = world.artifact / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    code, findings = verify(capsys, world, REVISION)
    signed = "sha256:5aefbf99783c912c7927dad23ad323136fff6d6008b67acb7c6c5d8d36022eb7"
    assert code == 1
    assert len(findings) == 1
    rule, where, message = findings[0]
    assert (rule, where) == ("trust/artifact-mismatch", DIGEST_AT)
    assert message.startswith("adapter_model.safetensors hashes to sha256:")
    assert message.endswith(f"; the signature records {signed}")


def test_a_file_added_after_signing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.artifact / "README.md").write_text("harmless, surely\n")
    assert verify(capsys, world, REVISION) == (
        1,
        [("trust/artifact-mismatch", DIGEST_AT, "README.md is in the artifact but was not signed")],
    )


def test_a_file_removed_after_signing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.artifact / "adapter_config.json").unlink()
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/artifact-mismatch",
                DIGEST_AT,
                "adapter_config.json was signed but is not in the artifact",
            )
        ],
    )


def test_a_file_renamed_after_signing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.artifact / "adapter_config.json").rename(world.artifact / "adapter_config.jsonx")
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/artifact-mismatch",
                DIGEST_AT,
                "adapter_config.json was signed but is not in the artifact",
            ),
            (
                "trust/artifact-mismatch",
                DIGEST_AT,
                "adapter_config.jsonx is in the artifact but was not signed",
            ),
        ],
    )


def test_a_symlink_added_after_signing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.artifact / "extra.safetensors").symlink_to("adapter_model.safetensors")
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/artifact-mismatch",
                DIGEST_AT,
                "extra.safetensors: symbolic links are not allowed in an artifact",
            )
        ],
    )


def test_git_metadata_hidden_by_the_default_ignore_rules(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    (world.artifact / ".gitattributes").write_text("* filter=evil\n")
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/ignored-paths",
                DIGEST_AT,
                "the artifact holds '.gitattributes', which the signature's ignore rules hide",
            )
        ],
    )


def test_a_bundle_signed_by_another_key(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other, _ = write_key(tmp_path / "attacker", "other")
    sign(capsys, other)
    hint = json.loads(world.bundle.read_text())["verificationMaterial"]["publicKey"]["hint"]
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/signer-not-allowed",
                BUNDLE,
                f"signed with a key that {world.trust} does not trust (public key digest {hint})",
            )
        ],
    )


def test_another_key_claiming_the_trusted_key(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trusted = json.loads(world.bundle.read_text())["verificationMaterial"]["publicKey"]["hint"]
    other, _ = write_key(tmp_path / "attacker", "other")
    sign(capsys, other)
    forged = json.loads(world.bundle.read_text())
    forged["verificationMaterial"]["publicKey"]["hint"] = trusted
    world.bundle.write_text(json.dumps(forged))
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/signature-invalid",
                BUNDLE,
                "model-signing rejected the signature: the signature does not match the signed "
                f"payload (signer {IDENTITY})",
            )
        ],
    )


def test_a_payload_edited_after_signing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = json.loads(world.bundle.read_text())
    envelope = bundle["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["name"] = "renamed"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    world.bundle.write_text(json.dumps(bundle))
    code, findings = verify(capsys, world, REVISION)
    assert (code, [(rule, where) for rule, where, _ in findings]) == (
        1,
        [("trust/signature-invalid", BUNDLE)],
    )


def test_a_bundle_for_another_digest(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "support-bot@1.0.0", "--key", str(world.key), "--force"]) == 0
    capsys.readouterr()
    shutil.copyfile(world.root / "adapters/support-bot/1.0.0.sigstore.json", world.bundle)
    other = "sha256:ff7847230591027a29bf6529d8c42dff0f458e4e8d2277f97f70de8d67424f53"
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/digest-mismatch",
                DIGEST_AT,
                f"the signature covers {other}, not the manifest's artifact digest {world.digest}",
            )
        ],
    )


def test_a_truncated_bundle(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    text = world.bundle.read_text()
    world.bundle.write_text(text[:600])
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/bundle-invalid",
                BUNDLE,
                "truncated: the JSON stops after 600 bytes, mid-document",
            )
        ],
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "this is not a bundle\n",
            "not valid JSON (Expecting value at line 1, column 1): not a signature bundle",
        ),
        ("", "the file is empty: not a signature bundle"),
        ('["a", "list"]', "expected a JSON object (a Sigstore bundle)"),
        ('{"mediaType": "text/plain"}', "$.mediaType is 'text/plain', not a Sigstore bundle"),
    ],
    ids=["prose", "empty", "list", "media-type"],
)
def test_a_bundle_that_is_not_a_bundle(
    world: World, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    world.bundle.write_text(content)
    assert verify(capsys, world, REVISION) == (1, [("trust/bundle-invalid", BUNDLE, message)])


def test_a_missing_bundle(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.bundle.unlink()
    assert verify(capsys, world, REVISION) == (
        1,
        [("trust/signature-missing", BUNDLE, f"{REVISION} is not signed: {BUNDLE} does not exist")],
    )


def test_a_bundle_that_ignores_more_than_git_metadata(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    config = signing.Config().use_elliptic_key_signer(private_key=world.key)  # type: ignore[no-untyped-call]
    config.set_hashing_config(
        hashing.Config().set_ignored_paths(paths=["README.md"])  # type: ignore[no-untyped-call]
    )
    config.sign(world.artifact, world.bundle)
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/ignored-paths",
                BUNDLE,
                "the signature ignores 'README.md': files there would not be verified",
            )
        ],
    )


def test_a_signer_the_environment_does_not_allow(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    write_trust(world.trust.parent, "{identity: intern@example.internal, key: pipeline.pub}")
    assert verify(capsys, world, REVISION) == (0, [])  # any trusted signer, without --env
    assert verify(capsys, world, REVISION, "--env", "prod") == (
        1,
        [
            (
                "trust/signer-not-allowed",
                BUNDLE,
                "signed by intern@example.internal, which environments/prod does not allow "
                "(promotion.adapter_signers: svc-train-pipeline@example.internal)",
            )
        ],
    )


def test_a_p384_key_signs_and_verifies(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, _ = write_key(world.trust.parent, "p384", ec.SECP384R1())
    write_trust(world.trust.parent, f"{{identity: {IDENTITY}, key: p384.pub}}")
    sign(capsys, key)
    assert verify(capsys, world, REVISION, "--env", "prod") == (0, [])
