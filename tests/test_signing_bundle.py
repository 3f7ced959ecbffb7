"""Reading bundles defensively: every malformed part is named, nothing raises past BundleError."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapterctl.model.trust import SignerMode
from adapterctl.signing.bundle import MAX_BUNDLE_BYTES, BundleError, read_bundle
from tests.conftest import REPO

EXAMPLE = REPO / "adapters/support-bot/1.1.0.sigstore.json"
Bundle = dict[str, Any]


def _statement(bundle: Bundle) -> Bundle:
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))  # type: ignore[no-any-return]


def _with_statement(bundle: Bundle, edit: Callable[[Bundle], None]) -> None:
    statement = _statement(bundle)
    edit(statement)
    payload = json.dumps(statement).encode()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()


def _read(tmp_path: Path, bundle: Bundle | str | bytes) -> str:
    path = tmp_path / "bundle.sigstore.json"
    if isinstance(bundle, dict):
        path.write_text(json.dumps(bundle))
    elif isinstance(bundle, str):
        path.write_text(bundle)
    else:
        path.write_bytes(bundle)
    with pytest.raises(BundleError) as caught:
        read_bundle(path)
    return caught.value.message


@pytest.fixture
def bundle() -> Bundle:
    return json.loads(EXAMPLE.read_text())  # type: ignore[no-any-return]


def test_the_example_bundle_reads(bundle: Bundle) -> None:
    read = read_bundle(EXAMPLE)
    assert read.mode is SignerMode.KEY
    assert read.key_hint == bundle["verificationMaterial"]["publicKey"]["hint"]
    assert read.subject_digest == (
        "sha256:9ac675757a5cd2361d4aaaede4b1aea7b67a2da1c23f75dc3271f7f749c43792"
    )
    assert (read.method, read.hash_type, read.allow_symlinks) == ("files", "sha256", False)
    assert sorted(read.ignore_paths) == [".git", ".gitattributes", ".github", ".gitignore"]
    assert [r.name for r in read.resources] == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]


def _set(path: tuple[str, ...], value: object) -> Callable[[Bundle], None]:
    def edit(document: Bundle) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def _drop(path: tuple[str, ...]) -> Callable[[Bundle], None]:
    def edit(document: Bundle) -> None:
        node = document
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_drop(("dsseEnvelope",)), "$.dsseEnvelope is missing: not a model-signing bundle"),
        (
            _set(("dsseEnvelope", "payload"), "%%%"),
            "the DSSE payload is not valid base64",
        ),
        (
            _set(("dsseEnvelope", "payloadType"), "text/plain"),
            "the DSSE payload is 'text/plain', not an in-toto statement",
        ),
        (_set(("dsseEnvelope", "signatures"), []), "the DSSE envelope holds no signature"),
        (
            _set(("verificationMaterial", "publicKey", "hint"), ""),
            "$.verificationMaterial.publicKey.hint is not a key digest (old format?)",
        ),
        (
            _set(("verificationMaterial",), {"tlogEntries": []}),
            "$.verificationMaterial holds no public key hint and no certificate",
        ),
        (
            _set(("verificationMaterial",), {"x509CertificateChain": {"certificates": []}}),
            "the certificate chain is empty",
        ),
    ],
    ids=["no-envelope", "payload", "payload-type", "unsigned", "hint", "material", "chain"],
)
def test_a_broken_envelope(
    tmp_path: Path, bundle: Bundle, edit: Callable[[Bundle], None], message: str
) -> None:
    edit(bundle)
    assert _read(tmp_path, bundle) == message


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _set(("predicateType",), "https://model_signing/Digests/v0.1"),
            "predicate type 'https://model_signing/Digests/v0.1' is not model-signing's "
            "https://model_signing/signature/v1.0",
        ),
        (_set(("subject",), []), "expected exactly one subject, found 0"),
        (
            _set(("predicate", "resources"), [{"name": "a", "algorithm": "blake3", "digest": "0"}]),
            "resource 'a' is hashed with blake3, not SHA-256",
        ),
        (
            _set(("predicate", "serialization", "allow_symlinks"), "no"),
            "$.predicate.serialization.allow_symlinks has the wrong type: "
            "not a model-signing bundle",
        ),
        (
            _set(("predicate", "serialization", "ignore_paths"), "README.md"),
            "$.predicate.serialization.ignore_paths is not a list of paths",
        ),
    ],
    ids=["v0.1", "subjects", "blake3", "symlinks-type", "ignore-type"],
)
def test_a_broken_statement(
    tmp_path: Path, bundle: Bundle, edit: Callable[[Bundle], None], message: str
) -> None:
    _with_statement(bundle, edit)
    assert _read(tmp_path, bundle) == message


def test_resources_that_do_not_hash_to_the_subject(tmp_path: Path, bundle: Bundle) -> None:
    original = copy.deepcopy(_statement(bundle))

    def drop_one(statement: Bundle) -> None:
        statement["predicate"]["resources"].pop()

    _with_statement(bundle, drop_one)
    message = _read(tmp_path, bundle)
    subject = original["subject"][0]["digest"]["sha256"]
    assert message.startswith("inconsistent: the signed files hash to sha256:")
    assert message.endswith(f", the subject says sha256:{subject}")


def test_an_oversized_or_binary_file(tmp_path: Path) -> None:
    assert _read(tmp_path, b" " * (MAX_BUNDLE_BYTES + 1)) == (
        "larger than 8 MiB: not a signature bundle"
    )
    assert _read(tmp_path, b"\xff\xfe{") == "not UTF-8 text: not a signature bundle"
