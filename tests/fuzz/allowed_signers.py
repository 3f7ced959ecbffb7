"""Fuzz target: git's allowed-signers file as ``verify-commit`` and the sync checks read it
(``signing.commit_signers.read_allowed_signers``)."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.signing.commit_signers import read_allowed_signers
from tests.fuzz.harness import write

KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def check(data: bytes) -> None:
    read_allowed_signers(write("allowed_signers", data))


def seeds() -> Iterator[bytes]:
    yield f"jdoe@example.internal ssh-ed25519 {KEY} jdoe\n".encode()
    yield (
        f'# release managers\nrm@example.internal,ops@example.internal namespaces="git",'
        f"valid-after=20260101,valid-before=20271231235959Z ssh-ed25519 {KEY}\n"
        f"ca@example.internal cert-authority ssh-ed25519 {KEY}\n"
    ).encode()
