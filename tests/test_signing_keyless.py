"""Sigstore keyless against a private trust configuration, verified offline.

The test builds a private Sigstore deployment in memory — a Fulcio-style CA, a CT log and a
Rekor log, each with its own key — and the client trust configuration that names them.
A keyless bundle is then made the way those services would make it: a short-lived
certificate for the OIDC identity (SAN, issuer extension, codeSigning, an embedded SCT),
the DSSE signature, and a Rekor ``dsse`` entry with its signed entry timestamp, inclusion
proof and signed checkpoint. ``adapterctl verify`` must accept it with no socket opened,
and refuse it offline against a foreign trust root, another identity or another issuer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from adapterctl.registry import Registry
from adapterctl.store.digests import digest_directory
from tests.conftest import copy_registry
from tests.test_signing_attacks import BUNDLE, REVISION, World, verify, write_trust
from tests.test_signing_pki import IDENTITY

ISSUER = "https://oidc.example.internal"
OIDC_ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
PAYLOAD_TYPE = "application/vnd.in-toto+json"
START = "2020-01-01T00:00:00Z"
LOG = "rekor.example.internal"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _octet_string(data: bytes) -> bytes:
    size = len(data)
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    length = bytes([size]) if size < 0x80 else bytes([0x80 | len(raw)]) + raw
    return b"\x04" + length + data


@dataclass(frozen=True)
class Deployment:
    """A private Sigstore: Fulcio CA, CT log and Rekor keys."""

    ca_key: ec.EllipticCurvePrivateKey
    ca: x509.Certificate
    ct_key: ec.EllipticCurvePrivateKey
    rekor_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str) -> Deployment:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP384R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} fulcio")])
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        ca = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA384())
        )
        return cls(
            key,
            ca,
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )

    def trust_config(self) -> dict[str, Any]:
        """The client trust configuration a verifier is given (no URL is ever contacted)."""

        def service(url: str) -> dict[str, Any]:
            return {
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": START},
                "operator": "example",
            }

        ca_der = self.ca.public_bytes(serialization.Encoding.DER)
        root = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [self._log(self.rekor_key, f"https://{LOG}")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "example", "commonName": "fulcio"},
                    "uri": "https://fulcio.example.internal",
                    "certChain": {"certificates": [{"rawBytes": _b64(ca_der)}]},
                    "validFor": {"start": START},
                }
            ],
            "ctlogs": [self._log(self.ct_key, "https://ctfe.example.internal")],
            "timestampAuthorities": [],
        }
        signing = {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service("https://fulcio.example.internal")],
            "oidcUrls": [service(ISSUER)],
            "rekorTlogUrls": [service(f"https://{LOG}")],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        }
        return {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": root,
            "signingConfig": signing,
        }

    @staticmethod
    def _log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
        der = _spki(key.public_key())
        return {
            "baseUrl": url,
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": _b64(der),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": START},
            },
            "logId": {"keyId": _b64(hashlib.sha256(der).digest())},
        }

    def _leaf(
        self, key: ec.EllipticCurvePrivateKey, identity: str, issuer: str, serial: int
    ) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(minutes=5))
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), False
            )
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), True)
            .add_extension(x509.UnrecognizedExtension(OIDC_ISSUER_OID, issuer.encode()), False)
        )

    def _sct(self, tbs: bytes) -> bytes:
        """An RFC 6962 precertificate SCT list from the CT log, as the extension's value."""
        log_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        issuer_key_hash = hashlib.sha256(_spki(self.ca_key.public_key())).digest()
        millis = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        entry = issuer_key_hash + len(tbs).to_bytes(3, "big") + tbs
        signature = _sign(self.ct_key, struct.pack("!BBQH", 0, 0, millis, 1) + entry + b"\0\0")
        sct = struct.pack("!B32sQHBBH", 0, log_id, millis, 0, 4, 3, len(signature)) + signature
        listed = struct.pack("!H", len(sct)) + sct
        return _octet_string(struct.pack("!H", len(listed)) + listed)

    def certificate(
        self, key: ec.EllipticCurvePrivateKey, identity: str, issuer: str
    ) -> x509.Certificate:
        """What Fulcio issues: a short-lived certificate carrying an SCT over its TBS."""
        serial = x509.random_serial_number()
        precert = self._leaf(key, identity, issuer, serial).sign(self.ca_key, hashes.SHA256())
        sct = x509.UnrecognizedExtension(SCT_LIST_OID, self._sct(precert.tbs_certificate_bytes))
        builder = self._leaf(key, identity, issuer, serial).add_extension(sct, critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def bundle(self, payload: bytes, identity: str = IDENTITY, issuer: str = ISSUER) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.certificate(key, identity, issuer)
        pae = b"DSSEv1 %d %s %d %s" % (
            len(PAYLOAD_TYPE),
            PAYLOAD_TYPE.encode(),
            len(payload),
            payload,
        )
        signature = _sign(key, pae)
        envelope = {
            "payload": _b64(payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": _b64(signature)}],
        }
        verifier = _b64(cert.public_bytes(serialization.Encoding.PEM))
        spec = {
            "envelopeHash": {"algorithm": "sha256", "value": "0" * 64},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": _b64(signature), "verifier": verifier}],
        }
        body = json.dumps({"apiVersion": "0.0.1", "kind": "dsse", "spec": spec}).encode()
        material = {
            "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [self._entry(body)],
        }
        return json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": material,
                "dsseEnvelope": envelope,
            }
        )

    def _entry(self, body: bytes) -> dict[str, Any]:
        """A Rekor v1 entry: signed entry timestamp, 1-leaf inclusion proof, signed checkpoint."""
        log_id = hashlib.sha256(_spki(self.rekor_key.public_key())).digest()
        integrated = int(dt.datetime.now(dt.UTC).timestamp()) - 1
        promise = rfc8785.dumps(
            {"body": _b64(body), "integratedTime": integrated, "logID": log_id.hex(), "logIndex": 0}
        )
        root_hash = hashlib.sha256(b"\0" + body).digest()
        note = f"{LOG} - 1\n1\n{_b64(root_hash)}\n"
        note_signature = _b64(log_id[:4] + _sign(self.rekor_key, note.encode()))
        proof = {
            "logIndex": "0",
            "rootHash": _b64(root_hash),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": {"envelope": f"{note}\n\u2014 {LOG} {note_signature}\n"},
        }
        return {
            "logIndex": "0",
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": _b64(_sign(self.rekor_key, promise))},
            "inclusionProof": proof,
            "canonicalizedBody": _b64(body),
        }


def statement(artifact: Path) -> bytes:
    """The in-toto statement model-signing signs for this artifact (predicate v1.0)."""
    digest = digest_directory(artifact)
    resources = [
        {"name": f.name, "algorithm": "sha256", "digest": f.digest.removeprefix("sha256:")}
        for f in digest.files
    ]
    serialization_ = {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
        "ignore_paths": [".git", ".github", ".gitattributes", ".gitignore"],
    }
    value = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": artifact.name, "digest": {"sha256": digest.digest[7:]}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {"serialization": serialization_, "resources": resources},
    }
    return json.dumps(value).encode()


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name lookup or connection tried (and refused) while the test runs."""
    tried: list[str] = []

    def refuse_connect(self: socket.socket, address: Any) -> None:
        tried.append(f"connect {address!r}")
        raise OSError("network disabled by the test")

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append(f"getaddrinfo {host!r}")
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setattr(socket, "create_connection", refuse_lookup)
    return tried


@dataclass(frozen=True)
class Keyless:
    world: World
    sigstore: Deployment
    payload: bytes

    def trust(self, config: dict[str, Any], identity: str = IDENTITY) -> None:
        folder = self.world.trust.parent
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trust_config.json").write_text(json.dumps(config))
        write_trust(
            folder,
            f"{{identity: {identity}, oidc_issuer: '{ISSUER}', trust_config: trust_config.json}}",
        )


@pytest.fixture
def keyless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Keyless:
    root = copy_registry(tmp_path / "registry", with_store=True)
    monkeypatch.chdir(root)
    revision = Registry.load(root).revision("support-bot", "1.1.0")
    assert revision is not None
    artifact = root / "examples/store/sha256" / revision.artifact.digest[7:]
    sigstore = Deployment.create("example")
    payload = statement(artifact)
    (root / BUNDLE).write_text(sigstore.bundle(payload))
    world = World(root, tmp_path / "verifier" / "trust.yaml", Path(), artifact, "")
    result = Keyless(world, sigstore, payload)
    result.trust(sigstore.trust_config())
    return result


def test_a_keyless_bundle_verifies_offline(
    keyless: Keyless, attempts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(capsys, keyless.world, REVISION, "--env", "prod") == (0, [])
    assert attempts == []


def test_a_bundle_from_a_foreign_trust_root_is_refused_offline(
    keyless: Keyless, attempts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    keyless.trust(Deployment.create("foreign").trust_config())
    assert verify(capsys, keyless.world, REVISION) == (
        1,
        [
            (
                "trust/signature-invalid",
                BUNDLE,
                "Sigstore verification failed: failed to build timestamp certificate chain: "
                "validation failed: candidates exhausted: all candidates exhausted with no "
                f"interior errors (signer {IDENTITY})",
            )
        ],
    )
    assert attempts == []


def test_a_keyless_bundle_from_another_issuer(
    keyless: Keyless, attempts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    other = keyless.sigstore.bundle(keyless.payload, issuer="https://accounts.example.com")
    (keyless.world.root / BUNDLE).write_text(other)
    code, findings = verify(capsys, keyless.world, REVISION)
    assert (code, [(rule, where) for rule, where, _ in findings]) == (
        1,
        [("trust/signature-invalid", BUNDLE)],
    )
    assert "https://accounts.example.com" in findings[0][2]
    assert attempts == []


def test_a_keyless_bundle_for_another_identity(
    keyless: Keyless, capsys: pytest.CaptureFixture[str]
) -> None:
    other = keyless.sigstore.bundle(keyless.payload, identity="intern@example.internal")
    (keyless.world.root / BUNDLE).write_text(other)
    assert verify(capsys, keyless.world, REVISION) == (
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


def test_a_tampered_log_entry_is_refused(
    keyless: Keyless, attempts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = json.loads((keyless.world.root / BUNDLE).read_text())
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) - 60)
    (keyless.world.root / BUNDLE).write_text(json.dumps(bundle))
    code, findings = verify(capsys, keyless.world, REVISION)
    assert (code, [(rule, where) for rule, where, _ in findings]) == (
        1,
        [("trust/signature-invalid", BUNDLE)],
    )
    assert attempts == []
