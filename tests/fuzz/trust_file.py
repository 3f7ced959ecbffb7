"""Fuzz target: the verifier's trust file (``gates.trust.load_trust``): read, validated, and
the key, CA root or Sigstore trust configuration of each signer loaded beside it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

from adapterctl.gates.trust import load_trust
from tests.fuzz.harness import REPO, files, write

KEY = "keys/train-pipeline.pub"


def check(data: bytes) -> None:
    path = write("trust/trust.yaml", data)
    if not (path.parent / KEY).exists():
        (path.parent / "keys").mkdir(exist_ok=True)
        shutil.copy(REPO / "examples" / KEY, path.parent / KEY)
    load_trust(path, "trust.yaml")


def seeds() -> Iterator[bytes]:
    yield from files("examples/trust.yaml")
    yield (
        b"signers:\n"
        b"  - {identity: ci@example.internal, ca_roots: [keys/train-pipeline.pub]}\n"
        b"  - {identity: jdoe@example.internal, oidc_issuer: https://issuer.example,"
        b" trust_config: keys/train-pipeline.pub}\n"
    )
