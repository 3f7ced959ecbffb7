"""Reading a model-signing bundle defensively, before any signature is checked.

A bundle (``adapters/<name>/<version>.sigstore.json``) is a Sigstore bundle whose DSSE
envelope carries an in-toto statement: one subject (the artifact's name and its subject
digest) and a predicate recording how the files were serialized (method, hash,
``ignore_paths``) and every file's digest. Parsing it here, with a size cap and precise
messages, lets the verifier compare the subject with the manifest and refuse hidden
paths before the library checks the signature over the very same payload bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from adapterctl.errors import InputError
from adapterctl.findings import JsonPath, format_json_path
from adapterctl.fsutil import TooLarge, read_capped
from adapterctl.model.trust import SignerMode

MAX_BUNDLE_BYTES = 8 * 1024 * 1024
BUNDLE_MEDIA_TYPE = re.compile(r"^application/vnd\.dev\.sigstore\.bundle(\.v0\.[1-3])?\+json")
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
SERIALIZATION = ("predicate", "serialization")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
T = TypeVar("T")
RESIGN = "sign the revision again: adapterctl sign NAME@VERSION --force ..."


class BundleError(InputError):
    """A bundle that cannot be used: unreadable, truncated, not JSON, not model-signing."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One signed file: its path inside the artifact and ``sha256:<hex>``."""

    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class Bundle:
    """What the verifier needs from a bundle, read but not yet verified."""

    mode: SignerMode
    key_hint: str | None
    """Key mode: SHA-256 (hex) of the signer's public key PEM, as model-signing records it."""
    certificates: tuple[bytes, ...]
    """Certificate and keyless modes: DER certificates, the signing certificate first."""
    subject_name: str
    subject_digest: str
    """``sha256:<hex>``: what the manifest's ``artifact.digest`` must equal."""
    method: str
    hash_type: str
    allow_symlinks: bool
    ignore_paths: tuple[str, ...]
    resources: tuple[Resource, ...]


def read_bundle(path: Path) -> Bundle:
    """Parse the bundle at ``path``; BundleError (message names the problem) otherwise."""
    document = _document(_read(path))
    mode, hint, certificates = _material(document)
    statement = _statement(_field(document, ("dsseEnvelope",), dict))
    serialization = _field(statement, SERIALIZATION, dict)
    subject_name, subject_digest = _subject(statement)
    resources = _resources(statement)
    _check_consistent(subject_digest, resources)
    return Bundle(
        mode=mode,
        key_hint=hint,
        certificates=certificates,
        subject_name=subject_name,
        subject_digest=subject_digest,
        method=_field(statement, (*SERIALIZATION, "method"), str),
        hash_type=_field(statement, (*SERIALIZATION, "hash_type"), str),
        allow_symlinks=_field(statement, (*SERIALIZATION, "allow_symlinks"), bool),
        ignore_paths=_ignore_paths(serialization),
        resources=resources,
    )


def _read(path: Path) -> bytes:
    try:
        return read_capped(path, MAX_BUNDLE_BYTES)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BundleError(f"cannot be read ({exc.strerror})") from None
    except TooLarge:
        limit = MAX_BUNDLE_BYTES // (1024 * 1024)
        raise BundleError(f"larger than {limit} MiB: not a signature bundle", hint=RESIGN) from None


def _document(data: bytes) -> dict[str, Any]:
    if not data.strip():
        raise BundleError("the file is empty: not a signature bundle", hint=RESIGN)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BundleError("not UTF-8 text: not a signature bundle", hint=RESIGN) from None
    except json.JSONDecodeError as exc:
        raise BundleError(_json_problem(exc, data), hint=RESIGN) from None
    except RecursionError:
        message = "not valid JSON (nested too deeply): not a signature bundle"
        raise BundleError(message, hint=RESIGN) from None
    except ValueError:  # an integer longer than Python converts
        digits = sys.get_int_max_str_digits()
        message = f"not valid JSON (a number has over {digits} digits): not a signature bundle"
        raise BundleError(message, hint=RESIGN) from None
    if not isinstance(value, dict):
        raise BundleError("expected a JSON object (a Sigstore bundle)", hint=RESIGN)
    media = value.get("mediaType")
    if not isinstance(media, str) or not BUNDLE_MEDIA_TYPE.match(media):
        raise BundleError(f"$.mediaType is {media!r}, not a Sigstore bundle", hint=RESIGN)
    return value


def _json_problem(exc: json.JSONDecodeError, data: bytes) -> str:
    if exc.msg.startswith("Unterminated") or exc.pos >= len(data.rstrip()):
        return f"truncated: the JSON stops after {len(data):,} bytes, mid-document"
    where = f"line {exc.lineno}, column {exc.colno}"
    return f"not valid JSON ({exc.msg} at {where}): not a signature bundle"


def _field(value: dict[str, Any], path: JsonPath, expected: type[T]) -> T:
    """``value`` at ``path``, which must exist and have the ``expected`` type."""
    node: Any = value
    for depth, part in enumerate(path):
        if not isinstance(node, dict) or part not in node:
            shown = format_json_path(path[: depth + 1])
            raise BundleError(f"{shown} is missing: not a model-signing bundle", hint=RESIGN)
        node = node[part]
    if not isinstance(node, expected) or (expected is not bool and isinstance(node, bool)):
        shown = format_json_path(path)
        raise BundleError(f"{shown} has the wrong type: not a model-signing bundle", hint=RESIGN)
    return node


def _material(document: dict[str, Any]) -> tuple[SignerMode, str | None, tuple[bytes, ...]]:
    material = _field(document, ("verificationMaterial",), dict)
    tlog = material.get("tlogEntries") or []
    if "publicKey" in material:
        hint = _field(material, ("publicKey", "hint"), str)
        if not HEX64.match(hint):
            message = "$.verificationMaterial.publicKey.hint is not a key digest (old format?)"
            raise BundleError(message, hint=RESIGN)
        return SignerMode.KEY, hint, ()
    if "x509CertificateChain" in material:
        chain = _field(material, ("x509CertificateChain", "certificates"), list)
        ders = tuple(_der(entry, i) for i, entry in enumerate(chain))
        if not ders:
            raise BundleError("the certificate chain is empty", hint=RESIGN)
        return (SignerMode.KEYLESS if tlog else SignerMode.CERTIFICATE), None, ders
    if "certificate" in material:
        return SignerMode.KEYLESS, None, (_der(material["certificate"], 0),)
    message = "$.verificationMaterial holds no public key hint and no certificate"
    raise BundleError(message, hint=RESIGN)


def _der(entry: object, index: int) -> bytes:
    raw = entry.get("rawBytes") if isinstance(entry, dict) else None
    if not isinstance(raw, str):
        raise BundleError(f"certificate {index} has no rawBytes", hint=RESIGN)
    return _base64(raw, f"certificate {index}")


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError(f"{what} is not valid base64", hint=RESIGN) from None


def _statement(envelope: dict[str, Any]) -> dict[str, Any]:
    payload_type = _field(envelope, ("payloadType",), str)
    if payload_type != PAYLOAD_TYPE:
        raise BundleError(f"the DSSE payload is {payload_type!r}, not an in-toto statement")
    if not _field(envelope, ("signatures",), list):
        raise BundleError("the DSSE envelope holds no signature", hint=RESIGN)
    payload = _base64(_field(envelope, ("payload",), str), "the DSSE payload")
    try:
        statement = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BundleError("the DSSE payload is not JSON", hint=RESIGN) from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise BundleError("the DSSE payload is not an in-toto v1 statement", hint=RESIGN)
    predicate = statement.get("predicateType")
    if predicate != PREDICATE_TYPE:
        message = f"predicate type {predicate!r} is not model-signing's {PREDICATE_TYPE}"
        raise BundleError(message, hint=RESIGN)
    return statement


def _subject(statement: dict[str, Any]) -> tuple[str, str]:
    subjects = _field(statement, ("subject",), list)
    if len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise BundleError(f"expected exactly one subject, found {len(subjects)}", hint=RESIGN)
    name = _field(subjects[0], ("name",), str)
    digest = _field(subjects[0], ("digest", "sha256"), str)
    if not HEX64.match(digest):
        raise BundleError(f"the subject digest '{digest}' is not SHA-256 hex", hint=RESIGN)
    return name, f"sha256:{digest}"


def _resources(statement: dict[str, Any]) -> tuple[Resource, ...]:
    items = _field(statement, ("predicate", "resources"), list)
    resources = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BundleError(f"resource {index} is not an object", hint=RESIGN)
        name = _field(item, ("name",), str)
        algorithm = _field(item, ("algorithm",), str)
        digest = _field(item, ("digest",), str)
        if algorithm != "sha256" or not HEX64.match(digest):
            message = f"resource '{name}' is hashed with {algorithm}, not SHA-256"
            raise BundleError(message, hint=RESIGN)
        resources.append(Resource(name, f"sha256:{digest}"))
    return tuple(resources)


def _ignore_paths(serialization: dict[str, Any]) -> tuple[str, ...]:
    paths = serialization.get("ignore_paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BundleError("$.predicate.serialization.ignore_paths is not a list of paths")
    return tuple(paths)


def _check_consistent(subject: str, resources: tuple[Resource, ...]) -> None:
    """The subject digest is SHA-256 over the resources' raw digests, in listed order."""
    hasher = hashlib.sha256()
    for resource in resources:
        hasher.update(bytes.fromhex(resource.digest.removeprefix("sha256:")))
    actual = f"sha256:{hasher.hexdigest()}"
    if actual != subject:
        message = f"inconsistent: the signed files hash to {actual}, the subject says {subject}"
        raise BundleError(message, hint=RESIGN)
