"""Fuzz target: a registry's ``pyproject.toml`` (``config``): finding the registry root by
it, reading ``[tool.adapterctl]`` and opening the store it configures."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.config import find_root, settings, store_uri
from adapterctl.store.uri import open_store
from tests.fuzz.harness import attempt, files, write


def check(data: bytes) -> None:
    root = write("registry/pyproject.toml", data).parent
    attempt(lambda: find_root(root))
    settings(root)
    open_store(store_uri(root, None), base=root)


def seeds() -> Iterator[bytes]:
    yield from files("pyproject.toml")
    yield b'[tool.adapterctl]\nstore = "file://examples/store"\n'
    yield b'[tool.adapterctl]\nstore = "s3://adapters/registry"\n'
