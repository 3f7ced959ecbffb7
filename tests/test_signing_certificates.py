"""Certificate mode: a private CA chain; SAN, codeSigning and validity checked by adapterctl."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from adapterctl.cli.app import main
from tests.conftest import copy_registry
from tests.test_signing_attacks import BUNDLE, REVISION, World, verify, write_trust
from tests.test_signing_pki import DAY, IDENTITY, NOW, Leaf, Pki, make_ca, make_leaf, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: Pki) -> World:
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    trust = write_trust(
        tmp_path / "verifier",
        f"{{identity: {IDENTITY}, ca_roots: [{pki.root.path}]}}",
    )
    return World(root, trust, pki.leaf.key, Path(), "")


def sign(capsys: pytest.CaptureFixture[str], pki: Pki, leaf: Leaf | None = None) -> None:
    leaf = leaf or pki.leaf
    args = ["--certificate", str(leaf.cert), "--key", str(leaf.key)]
    assert main(["sign", REVISION, *args, "--chain", str(pki.intermediate.path), "--force"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"signed {REVISION} (certificate mode): wrote {BUNDLE}\n")


def test_a_certificate_from_the_private_ca_verifies(
    world: World, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    sign(capsys, pki)
    assert verify(capsys, world, REVISION, "--env", "prod") == (0, [])


def test_a_certificate_from_another_ca(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_ca(tmp_path / "other", "other-root")
    sign(capsys, pki, make_leaf(tmp_path / "other", "stranger", other))
    code, findings = verify(capsys, world, REVISION)
    assert code == 1
    assert [(rule, where) for rule, where, _ in findings] == [("trust/certificate", BUNDLE)]
    assert findings[0][2] == (
        "the signing certificate was issued under CN=other-root, not under a trusted CA root "
        f"(CA roots trusted for {IDENTITY}: {pki.root.path})"
    )


def test_a_certificate_for_another_identity(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = make_leaf(tmp_path / "leaves", "intern", pki.intermediate, san="intern@example.internal")
    sign(capsys, pki, leaf)
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/certificate",
                BUNDLE,
                "the signing certificate is issued to intern@example.internal, "
                f"not to a trusted signer ({IDENTITY})",
            )
        ],
    )


def test_an_expired_certificate(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = make_leaf(
        tmp_path / "leaves", "old", pki.intermediate, not_before=NOW - 60 * DAY, not_after=NOW - DAY
    )
    sign(capsys, pki, leaf)
    expired = leaf.certificate.not_valid_after_utc.isoformat(timespec="seconds")
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/certificate",
                BUNDLE,
                f"the signing certificate ({IDENTITY}) expired at {expired}",
            )
        ],
    )


def test_a_certificate_not_for_code_signing(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = make_leaf(
        tmp_path / "leaves", "tls", pki.intermediate, eku=(ExtendedKeyUsageOID.SERVER_AUTH,)
    )
    sign(capsys, pki, leaf)
    assert verify(capsys, world, REVISION) == (
        1,
        [
            (
                "trust/certificate",
                BUNDLE,
                f"the signing certificate ({IDENTITY}) is not for code signing "
                "(its Extended Key Usage lacks codeSigning)",
            )
        ],
    )


def test_a_key_bundle_is_not_accepted_by_a_certificate_signer(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sign", REVISION, "--key", str(world.key), "--force"]) == 0
    capsys.readouterr()
    code, findings = verify(capsys, world, REVISION)
    assert (code, [(rule, where) for rule, where, _ in findings]) == (
        1,
        [("trust/signer-not-allowed", BUNDLE)],
    )
