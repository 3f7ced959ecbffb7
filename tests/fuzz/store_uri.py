"""Fuzz target: the store URI parser (``store.uri.open_store``), as ``--store``,
``$ADAPTERCTL_STORE`` or pyproject's ``store`` give it; opening a store touches nothing."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.store.uri import open_store
from tests.fuzz.harness import scratch, text


def check(data: bytes) -> None:
    open_store(text(data), base=scratch())


def seeds() -> Iterator[bytes]:
    for uri in (
        "file://examples/store",
        "file:///srv/store",
        "examples/store",
        "s3://adapters/registry",
        "s3://b",
    ):
        yield uri.encode()
