"""Fuzz target: a model-signing bundle as ``verify`` reads it before any signature is
checked (``signing.bundle.read_bundle``)."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.signing.bundle import read_bundle
from tests.fuzz.harness import files, write


def check(data: bytes) -> None:
    read_bundle(write("1.0.0.sigstore.json", data))


def seeds() -> Iterator[bytes]:
    yield from files("adapters/*/*.sigstore.json", "bases/*/*.sigstore.json")
