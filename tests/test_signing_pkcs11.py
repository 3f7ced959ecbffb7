"""PKCS#11: sign with a key held in a SoftHSM token, verify with its public half (key mode).

Runs only where SoftHSM (``softhsm2-util`` and ``libsofthsm2.so``) and model-signing's
``pkcs11`` extra (PyKCS11) are installed; nothing is installed for it. The token lives in a
temporary folder (``SOFTHSM2_CONF``), never in the system's token store.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from adapterctl.cli.app import main
from tests.conftest import copy_registry
from tests.test_signing_attacks import REVISION, World, verify, write_trust
from tests.test_signing_pki import IDENTITY

MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")  # DER OID prime256v1
PIN = "1234"


def _softhsm() -> tuple[Path, ModuleType]:
    missing = []
    module = next((Path(p) for p in MODULES if Path(p).is_file()), None)
    if shutil.which("softhsm2-util") is None or module is None:
        missing.append("SoftHSM (softhsm2-util and libsofthsm2.so)")
    if importlib.util.find_spec("PyKCS11") is None:
        missing.append("PyKCS11 (pip install 'model-signing[pkcs11]')")
    if missing:
        pytest.skip(f"PKCS#11 signing needs {' and '.join(missing)}")
    assert module is not None
    return module, pytest.importorskip("PyKCS11")


def _token_key(pkcs11: ModuleType, module: Path, folder: Path) -> Path:
    """Create an EC P-256 key pair in the token; returns its public key as PEM."""
    lib = pkcs11.PyKCS11Lib()
    lib.load(str(module))
    session = lib.openSession(
        lib.getSlotList(tokenPresent=True)[0], pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION
    )
    session.login(PIN)
    common = [
        (pkcs11.CKA_TOKEN, pkcs11.CK_TRUE),
        (pkcs11.CKA_LABEL, "signer"),
        (pkcs11.CKA_ID, (1,)),
    ]
    public, _ = session.generateKeyPair(
        [*common, (pkcs11.CKA_EC_PARAMS, P256_PARAMS), (pkcs11.CKA_VERIFY, pkcs11.CK_TRUE)],
        [*common, (pkcs11.CKA_SIGN, pkcs11.CK_TRUE), (pkcs11.CKA_SENSITIVE, pkcs11.CK_TRUE)],
        mecha=pkcs11.Mechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, None),
    )
    point = bytes(session.getAttributeValue(public, [pkcs11.CKA_EC_POINT])[0])
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])  # DER OCTET
    session.logout()
    session.closeSession()
    path = folder / "token.pub"
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_a_key_in_a_pkcs11_token_signs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module, pkcs11 = _softhsm()
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    subprocess.run(
        [
            *("softhsm2-util", "--init-token", "--free", "--label", "adapters"),
            *("--pin", PIN, "--so-pin", "5678"),
        ],
        check=True,
        capture_output=True,
    )
    verifier = tmp_path / "verifier"
    verifier.mkdir()
    public = _token_key(pkcs11, module, verifier)
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    uri = f"pkcs11:token=adapters;object=signer?module-path={module}&pin-value={PIN}"
    assert main(["sign", REVISION, "--pkcs11-uri", uri, "--force"]) == 0
    assert "(key mode)" in capsys.readouterr().out
    trust = write_trust(verifier, f"{{identity: {IDENTITY}, key: {public.name}}}")
    assert verify(capsys, World(root, trust, public, Path(), ""), REVISION) == (0, [])
