"""Fuzz target: the bounded YAML reader with line marks (``adapterctl.yamlio``), and the
mapping of every JSON path of what it read back to file:line."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.findings import JsonPath
from adapterctl.yamlio import Source, decode, load
from tests.fuzz.harness import files


def check(data: bytes) -> None:
    value, node = load(decode(data))
    source = Source("fuzz.yaml", node)
    for path in _paths(value, ()):
        source.locate(path)
        source.locate(path, key=True)
        source.scalar_text(path)


def _paths(value: object, at: JsonPath) -> Iterator[JsonPath]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


def seeds() -> Iterator[bytes]:
    yield from files(
        "adapters/*/*.yaml", "environments/*/*.yaml", "tests/data/valid/*/overlay/**/*.yaml"
    )
