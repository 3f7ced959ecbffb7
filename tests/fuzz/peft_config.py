"""Fuzz target: adapter_config.json as ``register`` and the compat gate read it
(``inspect.peft.parse_peft_config``), then every target module name it lists classified as
a saved tensor name would be."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.inspect.peft import KEY_PREFIX, classify_lora_key, parse_peft_config
from tests.fuzz.harness import files


def check(data: bytes) -> None:
    config = parse_peft_config(data, "adapter_config.json")
    if isinstance(config.target_modules, tuple):
        for module in config.target_modules:
            classify_lora_key(f"{KEY_PREFIX}{module}.lora_A.weight")


def seeds() -> Iterator[bytes]:
    yield from files("examples/store/sha256/*/adapter_config.json")
