"""Fuzz target: the safetensors header reader (``inspect.safetensors.read_header``), on a
file held in memory and read through the same ``read(start, length)`` a store gives it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from safetensors.numpy import save

from adapterctl.inspect.safetensors import read_header
from tests.fuzz.harness import files


def check(data: bytes) -> None:
    def read(start: int, length: int) -> bytes:
        return data[start : start + length]

    read_header(read, len(data), "adapter_model.safetensors")


def seeds() -> Iterator[bytes]:
    """Small files of every dtype numpy has, with metadata, and the example adapters."""
    tensors: dict[str, np.ndarray[tuple[int, ...], np.dtype[np.generic]]] = {
        "a": np.zeros((2, 3), dtype=np.float32),
        "b": np.arange(4, dtype=np.int64),
        "c": np.ones((1,), dtype=np.float16),
        "d": np.array([True, False]),
        "e": np.zeros((0, 4), dtype=np.uint8),
    }
    yield save(tensors, metadata={"format": "pt"})
    yield save({"base_model.model.layers.0.q_proj.lora_A.weight": tensors["a"]})
    yield save({})
    with io.BytesIO() as empty:
        yield empty.getvalue()
    yield from files("examples/store/sha256/ff78*/adapter_model.safetensors")
