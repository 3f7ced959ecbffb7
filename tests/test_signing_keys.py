"""Signing with the keys pipelines hold: every supported key type in PKCS#8 and SEC1, plain
and encrypted, signs and verifies (and a tampered artifact is still refused); the keys and
passwords adapterctl cannot use are refused with exact messages and nothing written; the
bundles interoperate with model-signing's own CLI in both directions. Keys are generated
in the test."""

from __future__ import annotations

import datetime
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from adapterctl.cli.app import main
from adapterctl.registry import Registry
from tests.conftest import copy_registry
from tests.test_signing_attacks import BUNDLE, REVISION, World, verify, write_trust
from tests.test_signing_pki import IDENTITY

PASSWORD = "pipeline-secret-7f3a9c"
PASSWORD_ENV = "ADAPTERCTL_KEY_PASSWORD"
CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
FORMATS = {
    "pkcs8": serialization.PrivateFormat.PKCS8,
    "sec1": serialization.PrivateFormat.TraditionalOpenSSL,
}
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example registry with its store; no password in the environment."""
    registry = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(registry)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    return registry


def private_pem(
    path: Path,
    key: PrivateKey,
    fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
    password: str | None = None,
) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, fmt, encryption))
    path.chmod(0o600)
    return path


def public_pem(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def artifact_of(root: Path) -> Path:
    revision = Registry.load(root).revision("support-bot", "1.1.0")
    assert revision is not None
    digest = str(revision.artifact.digest).removeprefix("sha256:")
    return root / "examples/store/sha256" / digest


def sign(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["sign", REVISION, "--force", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- every key type, both encodings, plain and encrypted -----------------------------------


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("fmt", list(FORMATS), ids=list(FORMATS))
@pytest.mark.parametrize("curve", list(CURVES), ids=list(CURVES))
def test_sign_then_verify_then_tamper(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, curve: str, fmt: str, encrypted: bool,
) -> None:  # fmt: skip
    key = ec.generate_private_key(CURVES[curve])
    pem = private_pem(tmp_path / "k/signer.pem", key, FORMATS[fmt], PASSWORD if encrypted else None)
    header = pem.read_text().splitlines()
    if fmt == "pkcs8":
        assert header[0] == f"-----BEGIN {'ENCRYPTED ' * encrypted}PRIVATE KEY-----"
    else:
        assert header[0] == "-----BEGIN EC PRIVATE KEY-----"
        assert (header[1] == "Proc-Type: 4,ENCRYPTED") is encrypted
    if encrypted:
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    code, out, err = sign(capsys, "--key", str(pem))
    assert (code, err) == (0, "")
    assert out.startswith(f"signed {REVISION} (key mode): wrote {BUNDLE}\n")
    assert PASSWORD not in out + (root / BUNDLE).read_text()

    pub = public_pem(tmp_path / "k/signer.pub", key)
    trust = write_trust(tmp_path / "verifier", f"{{identity: {IDENTITY}, key: {pub}}}")
    world = World(root, trust, pem, Path(), "")
    assert verify(capsys, world, REVISION) == (0, [])

    artifact = artifact_of(root)
    artifact.chmod(0o755)
    (artifact / "README.md").write_text("added after signing\n")
    assert verify(capsys, world, REVISION) == (1, [
        ("trust/artifact-mismatch", "adapters/support-bot/1.1.0.yaml:9 $.artifact.digest",
         "README.md is in the artifact but was not signed"),
    ])  # fmt: skip


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_the_issue_reproduction_with_openssl(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The key exactly as the report made it: openssl ecparam | openssl pkcs8 -topk8 -v2."""
    key = tmp_path / "k.pem"
    generated = subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"],
                               capture_output=True, check=True)  # fmt: skip
    subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout",
                    "pass:secret123", "-out", str(key)], input=generated.stdout, check=True)  # fmt: skip
    monkeypatch.setenv(PASSWORD_ENV, "secret123")
    code, out, err = sign(capsys, "--key", str(key))
    assert (code, err) == (0, "")
    assert "secret123" not in out + (root / BUNDLE).read_text()


# --- refusals ----------------------------------------------------------------------------


def _certificate(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _two_keys(pem: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    other = private_pem(pem.with_name("other.pem"), ec.generate_private_key(ec.SECP256R1()))
    private_pem(pem, key)
    pem.write_bytes(pem.read_bytes() + other.read_bytes())
    return pem


def _not_pem(pem: Path) -> Path:
    pem.parent.mkdir(parents=True, exist_ok=True)
    pem.write_text("this is not a key\n")
    return pem


def _bad_key(kind: str, folder: Path) -> Path:
    """A key file adapterctl must refuse, by kind."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = folder / "signer.pem"
    folder.mkdir(parents=True, exist_ok=True)
    makers = {
        "encrypted": lambda: private_pem(pem, key, password=PASSWORD),
        "wrong-password": lambda: private_pem(pem, key, password=PASSWORD),
        "password-for-plain": lambda: private_pem(pem, key),
        "certificate": lambda: _certificate(folder / "signer.crt", key),
        "public-key": lambda: public_pem(folder / "signer.pub", key),
        "two-keys": lambda: _two_keys(pem, key),
        "not-pem": lambda: _not_pem(pem),
        "ed25519": lambda: private_pem(pem, ed25519.Ed25519PrivateKey.generate()),
        "secp256k1": lambda: private_pem(pem, ec.generate_private_key(ec.SECP256K1())),
    }
    return makers[kind]()


REFUSED = {
    "encrypted": (None, "the key {key} is encrypted and no password was given\n"
                  "  → set $ADAPTERCTL_KEY_PASSWORD, or give --key-password-file FILE"),
    "wrong-password": ("not-the-password", "cannot decrypt the key {key}: wrong password"),
    "password-for-plain": (PASSWORD, "a password was given, but the key {key} is not "
                           "encrypted\n  → unset $ADAPTERCTL_KEY_PASSWORD (or drop "
                           "--key-password-file), or use the encrypted key your pipeline keeps"),
    "certificate": (None, "{key} is a certificate, not a private key\n  → give the private key "
                    "with --key (a certificate goes with --certificate)"),
    "public-key": (None, "{key} is a public key, not a private key\n  → sign with the private "
                   "key; the public key goes in the verifiers' trust file"),
    "two-keys": (None, "the key file {key} holds 2 private keys: give one"),
    "not-pem": (None, "{key} is not a PEM private key (no '-----BEGIN … PRIVATE KEY-----' "
                "block)"),
    "ed25519": (None, "the key {key} is an Ed25519 key; adapterctl signs with EC P-256, P-384 "
                "or P-521 keys (what model-signing verifies)"),
    "secp256k1": (None, "the key {key} is an EC secp256k1 key; adapterctl signs with EC P-256, "
                  "P-384 or P-521 keys (what model-signing verifies)"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_key_adapterctl_cannot_use_is_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, kind: str,
) -> None:  # fmt: skip
    password, message = REFUSED[kind]
    key = _bad_key(kind, tmp_path / "k")
    if password is not None:
        monkeypatch.setenv(PASSWORD_ENV, password)
    before = (root / BUNDLE).read_bytes()
    code, out, err = sign(capsys, "--key", str(key))
    assert (code, out, err) == (1, "", f"adapterctl: error: {message.format(key=key)}\n")
    assert PASSWORD not in err
    assert (root / BUNDLE).read_bytes() == before
    assert sorted(p.name for p in (root / BUNDLE).parent.iterdir() if p.name.startswith(".")) == []


def test_the_password_from_a_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = private_pem(tmp_path / "k/signer.pem", ec.generate_private_key(ec.SECP384R1()),
                      FORMATS["sec1"], PASSWORD)  # fmt: skip
    secret = tmp_path / "secrets/key-password"
    secret.parent.mkdir()
    secret.write_text(PASSWORD + "\n")  # as `echo` writes it
    secret.chmod(0o600)
    code, out, err = sign(capsys, "--key", str(key), "--key-password-file", str(secret))
    assert (code, err) == (0, "")
    secret.chmod(0o644)
    code, out, err = sign(capsys, "--key", str(key), "--key-password-file", str(secret))
    assert (code, err) == (0, f"adapterctl: warning: the password file {secret} is readable by "
                              "every user (mode 0644); keep it 0600 or 0400\n")  # fmt: skip
    assert PASSWORD not in out + err


def test_a_password_given_twice_is_a_usage_error(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    key = private_pem(tmp_path / "k/signer.pem", ec.generate_private_key(ec.SECP256R1()),
                      password=PASSWORD)  # fmt: skip
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    code, out, err = sign(capsys, "--key", str(key), "--key-password-file", str(secret))
    assert (code, out) == (2, "")
    assert err == (
        "adapterctl: error: give the key's password one way: $ADAPTERCTL_KEY_PASSWORD or "
        "--key-password-file\n"
    )


# --- model-signing's own CLI, both directions ------------------------------------------------


def _model_signing(*args: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).with_name("model_signing")
    assert cli.exists(), "model-signing's CLI is installed with adapterctl (its dependency)"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def test_model_signing_verifies_what_adapterctl_signed(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    key = ec.generate_private_key(ec.SECP384R1())
    pem = private_pem(tmp_path / "k/signer.pem", key, password=PASSWORD)
    pub = public_pem(tmp_path / "k/signer.pub", key)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert sign(capsys, "--key", str(pem))[0] == 0
    done = _model_signing("verify", "key", str(artifact_of(root)), "--signature",
                          str(root / BUNDLE), "--public_key", str(pub))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    other = public_pem(tmp_path / "k/other.pub", ec.generate_private_key(ec.SECP384R1()))
    done = _model_signing("verify", "key", str(artifact_of(root)), "--signature",
                          str(root / BUNDLE), "--public_key", str(other))  # fmt: skip
    assert done.returncode != 0


def test_adapterctl_verifies_what_model_signing_signed(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = private_pem(tmp_path / "k/signer.pem", key)
    pub = public_pem(tmp_path / "k/signer.pub", key)
    signature = tmp_path / "model.sig"
    done = _model_signing("sign", "key", str(artifact_of(root)), "--private_key", str(pem),
                          "--signature", str(signature))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.copyfile(signature, root / BUNDLE)
    trust = write_trust(tmp_path / "verifier", f"{{identity: {IDENTITY}, key: {pub}}}")
    world = World(root, trust, pem, Path(), "")
    assert verify(capsys, world, REVISION, "--env", "staging") == (0, [])
    # the subject-digest check adapterctl adds: a bundle over another artifact is refused
    other = artifact_of(root).parent / "other"
    shutil.copytree(artifact_of(root), other)
    other.chmod(0o755)
    (other / "README.md").write_text("another artifact\n")
    done = _model_signing("sign", "key", str(other), "--private_key", str(pem),
                          "--signature", str(signature))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shutil.copyfile(signature, root / BUNDLE)
    code, findings = verify(capsys, world, REVISION, "--env", "staging")
    assert code == 1, findings
