"""Test key material made with ``cryptography`` (shared by the signing tests), and the
certificate checks model-signing leaves to us: SAN, codeSigning, validity, chain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapterctl.signing.certificates import (
    CertificateError,
    check_chain,
    check_leaf,
    describe,
    identities,
)

IDENTITY = "svc-train-pipeline@example.internal"
NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


def write_key(folder: Path, name: str, curve: ec.EllipticCurve | None = None) -> tuple[Path, Path]:
    """A new EC key pair as ``<name>.pem`` (private, PKCS#8) and ``<name>.pub``."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(curve or ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
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


@dataclass(frozen=True)
class Authority:
    """A CA certificate, its key and its PEM file."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: Authority | None,
    *,
    ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    signer_key = issuer.key if issuer else key
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.cert.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )


def _write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def make_ca(folder: Path, name: str, parent: Authority | None = None) -> Authority:
    """A root CA (``parent`` None) or an intermediate CA, written to ``<name>.pem``."""
    key = ec.generate_private_key(ec.SECP384R1() if parent is None else ec.SECP256R1())
    builder = _builder(name, key, parent, ca=True, not_before=NOW - DAY, not_after=NOW + 365 * DAY)
    cert = builder.sign(parent.key if parent else key, hashes.SHA384())
    return Authority(key, cert, _write_pem(folder / f"{name}.pem", cert))


@dataclass(frozen=True)
class Leaf:
    key: Path
    cert: Path
    certificate: x509.Certificate


def make_leaf(
    folder: Path,
    name: str,
    issuer: Authority,
    *,
    san: str | None = IDENTITY,
    eku: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CODE_SIGNING,),
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + 30 * DAY,
) -> Leaf:
    """A signing certificate issued by ``issuer``; key in ``<name>.pem``, cert ``<name>.crt``."""
    key_path, _ = write_key(folder, name)
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    builder = _builder(name, key, issuer, ca=False, not_before=not_before, not_after=not_after)
    if san is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(san)]), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    return Leaf(key_path, _write_pem(folder / f"{name}.crt", cert), cert)


@dataclass(frozen=True)
class Pki:
    """A private CA (root + intermediate) and a good signing certificate."""

    root: Authority
    intermediate: Authority
    leaf: Leaf


def make_pki(folder: Path) -> Pki:
    root = make_ca(folder, "root")
    intermediate = make_ca(folder, "intermediate", root)
    return Pki(root, intermediate, make_leaf(folder, "signer", intermediate))


# --- the checks model-signing does not make --------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_a_good_leaf_passes(pki: Pki) -> None:
    leaf = pki.leaf.certificate
    assert identities(leaf) == [IDENTITY]
    check_leaf(leaf, NOW)
    check_chain([leaf, pki.intermediate.cert], [pki.root.cert], NOW)


def test_an_expired_leaf_is_refused(pki: Pki, tmp_path: Path) -> None:
    leaf = make_leaf(tmp_path, "old", pki.intermediate, not_after=NOW - DAY).certificate
    expired = leaf.not_valid_after_utc.isoformat(timespec="seconds")
    with pytest.raises(CertificateError) as caught:
        check_leaf(leaf, NOW)
    assert str(caught.value) == f"the signing certificate ({IDENTITY}) expired at {expired}"


def test_a_leaf_not_yet_valid_is_refused(pki: Pki, tmp_path: Path) -> None:
    leaf = make_leaf(tmp_path, "early", pki.intermediate, not_before=NOW + DAY).certificate
    with pytest.raises(CertificateError, match="is not valid before"):
        check_leaf(leaf, NOW)


@pytest.mark.parametrize(
    "eku", [(), (ExtendedKeyUsageOID.CLIENT_AUTH,)], ids=["no-eku", "client-auth"]
)
def test_a_leaf_without_code_signing_is_refused(
    pki: Pki, tmp_path: Path, eku: tuple[x509.ObjectIdentifier, ...]
) -> None:
    leaf = make_leaf(tmp_path, "tls", pki.intermediate, eku=eku).certificate
    with pytest.raises(CertificateError) as caught:
        check_leaf(leaf, NOW)
    assert str(caught.value) == (
        f"the signing certificate ({IDENTITY}) is not for code signing "
        "(its Extended Key Usage lacks codeSigning)"
    )


def test_a_leaf_from_another_ca_does_not_chain(pki: Pki, tmp_path: Path) -> None:
    other = make_ca(tmp_path, "other-root")
    leaf = make_leaf(tmp_path, "stranger", other).certificate
    with pytest.raises(CertificateError) as caught:
        check_chain([leaf], [pki.root.cert], NOW)
    assert str(caught.value) == (
        "the signing certificate was issued under CN=other-root, not under a trusted CA root"
    )


def test_a_leaf_cannot_act_as_a_ca(pki: Pki, tmp_path: Path) -> None:
    """A signing certificate (CA:false) cannot issue another one, even with the right SAN."""
    fake_ca = Authority(
        serialization.load_pem_private_key(pki.leaf.key.read_bytes(), None),  # type: ignore[arg-type]
        pki.leaf.certificate,
        pki.leaf.cert,
    )
    forged = make_leaf(tmp_path, "forged", fake_ca).certificate
    with pytest.raises(CertificateError, match="the certificate chain is not trusted"):
        check_chain([forged, pki.leaf.certificate, pki.intermediate.cert], [pki.root.cert], NOW)


def test_a_leaf_without_san_is_described_by_its_subject(pki: Pki, tmp_path: Path) -> None:
    leaf = make_leaf(tmp_path, "anonymous", pki.intermediate, san=None).certificate
    assert identities(leaf) == []
    assert describe(leaf) == "subject CN=anonymous"
