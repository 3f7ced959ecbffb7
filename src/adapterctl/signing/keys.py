"""The keys adapterctl signs and verifies with: one table, and a private key file read the
way a pipeline holds it (PKCS#8 or SEC1 PEM, plain or encrypted).

The table is what model-signing can both sign and verify with a key
(``model_signing/_signing/sign_ec_key.py``: ``_check_supported_ec_key`` accepts the curves
secp256r1, secp384r1 and secp521r1, hashed with SHA-256, SHA-384 and SHA-512; an Ed25519 or
RSA key has no curve and fails there). ``sign``, ``verify``, the trust file's validation and
docs/signing.md follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from adapterctl.errors import InputError


@dataclass(frozen=True)
class KeyType:
    name: str
    curve: str
    """The curve's name as ``cryptography`` reports it."""
    digest: str
    """The hash model-signing signs with for this curve."""


KEY_TYPES = (
    KeyType("EC P-256", "secp256r1", "SHA-256"),
    KeyType("EC P-384", "secp384r1", "SHA-384"),
    KeyType("EC P-521", "secp521r1", "SHA-512"),
)
CURVES = tuple(key_type.curve for key_type in KEY_TYPES)
_CURVE_NAMES = [key_type.name.removeprefix("EC ") for key_type in KEY_TYPES]
SUPPORTED = f"EC {', '.join(_CURVE_NAMES[:-1])} or {_CURVE_NAMES[-1]}"
"""The table in words, for messages: ``EC P-256, P-384 or P-521``."""

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PRIVATE = ("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY")


class KeyFileError(InputError):
    """A private key file adapterctl cannot sign with; the message says why."""


def key_type(curve: str) -> KeyType | None:
    return next((k for k in KEY_TYPES if k.curve == curve), None)


def describe(key: object) -> str:
    """What kind of key ``key`` is, in words (``an EC P-192 key``, ``an Ed25519 key``)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        known = key_type(key.curve.name)
        return f"an {known.name} key" if known else f"an EC {key.curve.name} key"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "an Ed448 key"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    return f"a {type(key).__name__} key"


def load_private_key(path: Path, password: bytes | None, shown: str | None = None) -> KeyType:
    """Check that ``path`` is one private key of the table that ``password`` opens (None:
    the key must not be encrypted); its type. The password never appears in a message."""
    shown = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the key {shown}: {exc.strerror or exc}") from None
    blocks = [match.decode() for match in _BLOCK.findall(data)]
    private = [block for block in blocks if block in _PRIVATE]
    _check_blocks(shown, blocks, private)
    encrypted = private[0] == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in data
    if encrypted and password is None:
        raise KeyFileError(
            f"the key {shown} is encrypted and no password was given",
            hint="set $ADAPTERCTL_KEY_PASSWORD, or give --key-password-file FILE",
        )
    if not encrypted and password is not None:
        raise KeyFileError(
            f"a password was given, but the key {shown} is not encrypted",
            hint="unset $ADAPTERCTL_KEY_PASSWORD (or drop --key-password-file), or use the "
            "encrypted key your pipeline keeps",
        )
    key = _load(shown, data, password)
    found = key_type(key.curve.name) if isinstance(key, ec.EllipticCurvePrivateKey) else None
    if found is None:
        raise KeyFileError(
            f"the key {shown} is {describe(key)}; adapterctl signs with {SUPPORTED} keys "
            "(what model-signing verifies)"
        )
    return found


def _check_blocks(shown: str, blocks: list[str], private: list[str]) -> None:
    if len(private) > 1:
        raise KeyFileError(f"the key file {shown} holds {len(private)} private keys: give one")
    if private:
        return
    if "CERTIFICATE" in blocks:
        raise KeyFileError(
            f"{shown} is a certificate, not a private key",
            hint="give the private key with --key (a certificate goes with --certificate)",
        )
    if "PUBLIC KEY" in blocks:
        raise KeyFileError(
            f"{shown} is a public key, not a private key",
            hint="sign with the private key; the public key goes in the verifiers' trust file",
        )
    raise KeyFileError(
        f"{shown} is not a PEM private key (no '-----BEGIN … PRIVATE KEY-----' block)"
    )


def _load(shown: str, data: bytes, password: bytes | None) -> object:
    try:
        return serialization.load_pem_private_key(data, password)
    except ValueError as exc:
        if password is not None and "decrypt" in str(exc).lower():
            raise KeyFileError(f"cannot decrypt the key {shown}: wrong password") from None
        raise KeyFileError(f"the key {shown} is not a valid PEM private key") from None
    except (TypeError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"the key {shown} is not a valid PEM private key, or its encryption is not "
            "supported (use PKCS#8 with AES: openssl pkcs8 -topk8 -v2 aes-256-cbc)"
        ) from None


def read_password_file(path: Path) -> tuple[bytes, str | None]:
    """The password in ``path`` (one trailing newline dropped), and a warning when the file
    is readable by every user."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise KeyFileError(f"cannot read the password file {path}: {exc.strerror or exc}") from None
    password = data[:-2] if data.endswith(b"\r\n") else data.removesuffix(b"\n")
    if not password:
        raise KeyFileError(f"the password file {path} is empty")
    warning = None
    if mode & 0o004:
        warning = (
            f"the password file {path} is readable by every user (mode {mode & 0o777:04o}); "
            "keep it 0600 or 0400"
        )
    return password, warning
