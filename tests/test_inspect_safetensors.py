"""The safetensors header reader: agreement with the safetensors library, exact messages."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from adapterctl.errors import InputError
from adapterctl.inspect.safetensors import (
    DTYPE_BITS,
    MAX_HEADER_BYTES,
    Header,
    SafetensorsError,
    Tensor,
    read_header,
    read_header_file,
)

NAME = "m.safetensors"
GiB = 1 << 30


def _entry(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def _blob(header: object, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


class _Counting:
    """A ``read`` callable over bytes (optionally a larger virtual size) that logs calls."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.calls: list[tuple[int, int]] = []

    def __call__(self, start: int, length: int) -> bytes:
        self.calls.append((start, length))
        return self.blob[start : start + length]


def _read(blob: bytes, file_size: int | None = None) -> Header:
    size = len(blob) if file_size is None else file_size
    return read_header(_Counting(blob), size, NAME)


def _library_view(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    with safe_open(str(path), framework="numpy") as file:
        return {
            key: (file.get_slice(key).get_dtype(), tuple(file.get_slice(key).get_shape()))
            for key in file.keys()  # noqa: SIM118 - safe_open is not a Mapping
        }


def _our_view(header: Header) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {name: (t.dtype, t.shape) for name, t in header.tensors.items()}


NUMPY_DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.uint16,
    np.float16,
    np.int32,
    np.uint32,
    np.float32,
    np.float64,
    np.int64,
    np.uint64,
    np.complex64,
]


@pytest.mark.parametrize("dtype", NUMPY_DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_numpy_dtype_agrees_with_the_library(tmp_path: Path, dtype: type) -> None:
    path = tmp_path / "t.safetensors"
    save_file({"x": np.zeros((3, 2), dtype=dtype), "y": np.ones(5, dtype=dtype)}, str(path))
    header = read_header_file(path)
    assert _our_view(header) == _library_view(path)


def test_real_file_agrees_with_the_library(tmp_path: Path) -> None:
    path = tmp_path / "adapter_model.safetensors"
    tensors: dict[str, npt.NDArray[Any]] = {
        "base_model.model.q_proj.lora_A.weight": np.zeros((8, 64), np.float32),
        "base_model.model.q_proj.lora_B.weight": np.zeros((64, 8), np.float16),
        "scalar": np.array(1.5, np.float64),
        "empty": np.zeros((0, 4), np.uint8),
        "flags": np.array([True, False, True]),
    }
    save_file(tensors, str(path), metadata={"format": "pt", "note": "é"})
    header = read_header_file(path)
    assert _our_view(header) == _library_view(path)
    assert dict(header.metadata) == {"format": "pt", "note": "é"}
    assert header.file_size == path.stat().st_size
    assert header.bytes_read == 8 + header.header_size == header.data_start
    assert sum(t.nbytes for t in header.tensors.values()) == header.file_size - header.data_start
    starts = [t.start for t in header.tensors.values()]
    assert starts == sorted(starts)
    raw = json.loads(path.read_bytes()[8 : header.data_start])
    for name, tensor in header.tensors.items():
        assert [tensor.start, tensor.end] == raw[name]["data_offsets"]


def test_range_reads_give_the_same_header(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    save_file({"a": np.zeros((4, 4), np.float32)}, str(path))
    blob = path.read_bytes()
    read = _Counting(blob)
    header = read_header(read, len(blob), "s3://bucket/t.safetensors")
    assert header == read_header_file(path)
    assert read.calls == [(0, 8), (8, header.header_size)]


@pytest.mark.parametrize(
    ("dtype", "shape", "nbytes"),
    [
        ("BF16", [2, 3], 12),
        ("F8_E4M3", [5], 5),
        ("F8_E5M2", [5], 5),
        ("F8_E8M0", [1], 1),
        ("F8_E4M3FNUZ", [2], 2),
        ("F8_E5M2FNUZ", [2], 2),
        ("F4", [2, 4], 4),
        ("F6_E2M3", [4], 3),
        ("F6_E3M2", [8], 6),
        ("C64", [2], 16),
    ],
)
def test_dtypes_numpy_cannot_write(
    tmp_path: Path, dtype: str, shape: list[int], nbytes: int
) -> None:
    path = tmp_path / "t.safetensors"
    path.write_bytes(_blob({"t": _entry(dtype, shape, 0, nbytes)}, b"\0" * nbytes))
    header = read_header_file(path)
    assert _our_view(header) == _library_view(path) == {"t": (dtype, tuple(shape))}


def test_dtype_table_is_complete() -> None:
    expected = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16"}
    expected |= {"I32", "U32", "F32", "F64", "I64", "U64"}
    assert expected <= set(DTYPE_BITS)


def test_empty_header_and_null_metadata() -> None:
    assert _read(_blob({})).tensors == {}
    header = _read(_blob({"__metadata__": None}))
    assert header.metadata == {}
    assert header.bytes_read == 8 + len(b'{"__metadata__": null}')


def test_tensors_are_immutable() -> None:
    header = _read(_blob({"a": _entry("U8", [1], 0, 1)}, b"\0"))
    assert header.tensors["a"] == Tensor(name="a", dtype="U8", shape=(1,), start=0, end=1)
    with pytest.raises(TypeError):
        header.tensors["b"] = header.tensors["a"]  # type: ignore[index]


U8 = _entry("U8", [4], 0, 4)

# id, file bytes, message (after "m.safetensors: "), whether the safetensors library agrees
MALFORMED: list[tuple[str, bytes, str, bool]] = [
    (
        "short",
        b"\x05\0\0\0\0",
        "truncated: 5 bytes, a safetensors file starts with an 8-byte header length",
        True,
    ),
    (
        "empty-file",
        b"",
        "truncated: 0 bytes, a safetensors file starts with an 8-byte header length",
        True,
    ),
    (
        "header-past-eof",
        struct.pack("<Q", 100) + b"{}",
        "header length 100 runs past the end of the file (10 bytes)",
        True,
    ),
    (
        "header-too-large",
        struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}",
        "header length 100000001 exceeds the safetensors limit of 100000000 bytes",
        True,
    ),
    (
        "not-utf8",
        _blob(b'{"\xff": 1}'),
        "header is not UTF-8: byte 0xff at header offset 2",
        True,
    ),
    (
        "not-json",
        _blob(b'{"a": }'),
        "header is not JSON: Expecting value: line 1 column 7 (char 6)",
        True,
    ),
    (
        "zero-length",
        _blob(b""),
        "header is not JSON: Expecting value: line 1 column 1 (char 0)",
        True,
    ),
    ("array", _blob([]), "header is a JSON array, expected a JSON object of tensors", True),
    (
        "duplicate",
        _blob(
            b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
            b'"a": {"dtype": "I8", "shape": [1], "data_offsets": [0, 1]}}',
            b"\0",
        ),
        "header has the key 'a' twice",
        False,
    ),
    (
        "entry-not-object",
        _blob({"w": [1, 2]}),
        "tensor 'w': expected an object with dtype, shape and data_offsets, got a JSON array",
        True,
    ),
    (
        "missing-dtype",
        _blob({"w": {"shape": [1], "data_offsets": [0, 1]}}, b"\0"),
        "tensor 'w': missing 'dtype'",
        True,
    ),
    (
        "missing-offsets",
        _blob({"w": {"dtype": "U8", "shape": [1]}}, b"\0"),
        "tensor 'w': missing 'data_offsets'",
        True,
    ),
    (
        "dtype-type",
        _blob({"w": _entry(8, [1], 0, 1)}, b"\0"),  # type: ignore[arg-type]
        "tensor 'w': 'dtype' must be a string, got 8",
        True,
    ),
    (
        "dtype-unknown",
        _blob({"x": _entry("F17", [1], 0, 1)}, b"\0"),
        "tensor 'x': dtype 'F17' is not a safetensors dtype",
        True,
    ),
    (
        "dtype-lowercase",
        _blob({"x": _entry("f32", [1], 0, 4)}, b"\0" * 4),
        "tensor 'x': dtype 'f32' is not a safetensors dtype",
        True,
    ),
    (
        "shape-negative",
        _blob({"w": _entry("U8", [-1], 0, 1)}, b"\0"),
        "tensor 'w': 'shape' must be a list of non-negative integers, got [-1]",
        True,
    ),
    (
        "shape-float",
        _blob({"w": _entry("U8", [1.0], 0, 1)}, b"\0"),  # type: ignore[list-item]
        "tensor 'w': 'shape' must be a list of non-negative integers, got [1.0]",
        True,
    ),
    (
        "shape-bool",
        _blob({"w": _entry("U8", [True], 0, 1)}, b"\0"),
        "tensor 'w': 'shape' must be a list of non-negative integers, got [true]",
        True,
    ),
    (
        "shape-not-list",
        _blob({"w": {"dtype": "U8", "shape": 4, "data_offsets": [0, 4]}}),
        "tensor 'w': 'shape' must be a list of non-negative integers, got 4",
        True,
    ),
    (
        "offsets-one",
        _blob({"w": {"dtype": "U8", "shape": [1], "data_offsets": [1]}}, b"\0"),
        "tensor 'w': 'data_offsets' must be two non-negative integers [begin, end], got [1]",
        True,
    ),
    (
        "offsets-reversed",
        _blob({"w": _entry("U8", [0], 4, 0)}, b"\0" * 4),
        "tensor 'w': data_offsets [4, 0] end before they begin",
        True,
    ),
    (
        "length-mismatch",
        _blob({"w": _entry("F32", [2, 3], 0, 12)}, b"\0" * 12),
        "tensor 'w': data_offsets [0, 12] hold 12 bytes, but F32 [2, 3] needs 24 bytes",
        True,
    ),
    (
        "past-end",
        _blob({"w": _entry("F32", [4], 0, 16)}, b"\0" * 10),
        "tensor 'w': data_offsets [0, 16] run past the end of the data (10 bytes)",
        True,
    ),
    (
        "huge-shape",
        _blob({"w": _entry("U8", [1 << 40, 1 << 25], 0, 4)}, b"\0" * 4),
        "tensor 'w': U8 [1099511627776, 33554432] needs more than 2^64 bytes",
        True,
    ),
    (
        "sub-byte",
        _blob({"w": _entry("F4", [3], 0, 2)}, b"\0" * 2),
        "tensor 'w': F4 [3] is 12 bits, not a whole number of bytes",
        True,
    ),
    (
        "overlap",
        _blob({"a": _entry("U8", [4], 0, 4), "b": _entry("U8", [4], 2, 6)}, b"\0" * 6),
        "tensors 'a' [0, 4] and 'b' [2, 6] overlap",
        True,
    ),
    (
        "same-offsets",
        _blob({"b": U8, "a": U8}, b"\0" * 4),
        "tensors 'a' [0, 4] and 'b' [0, 4] overlap",
        True,
    ),
    (
        "gap",
        _blob({"a": _entry("U8", [4], 0, 4), "b": _entry("U8", [2], 6, 8)}, b"\0" * 8),
        "2 bytes unused between tensors 'a' (ends at 4) and 'b' (starts at 6)",
        True,
    ),
    (
        "gap-first",
        _blob({"a": _entry("U8", [1], 1, 2)}, b"\0" * 2),
        "1 byte unused before the first tensor 'a' (starts at 1)",
        True,
    ),
    (
        "trailing",
        _blob({"a": U8}, b"\0" * 6),
        "2 bytes unused after the last tensor 'a' (ends at 4); "
        "the data must end where the last tensor does",
        True,
    ),
    (
        "data-no-tensors",
        _blob({}, b"\0" * 3),
        "3 bytes unused after the header; the data must end where the last tensor does",
        True,
    ),
    (
        "metadata-not-object",
        _blob({"__metadata__": ["a"]}),
        "'__metadata__' must be an object of strings, got a JSON array",
        True,
    ),
    (
        "metadata-value",
        _blob({"__metadata__": {"format": 1}}),
        "'__metadata__' key 'format' must map to a string, got 1",
        True,
    ),
    (
        "control-chars",
        _blob({"a\nb\x1b[31m": _entry("X", [1], 0, 1)}, b"\0"),
        "tensor 'a\\nb\\x1b[31m': dtype 'X' is not a safetensors dtype",
        True,
    ),
]


@pytest.mark.parametrize(
    ("blob", "message"),
    [(blob, message) for _, blob, message, _ in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_headers_have_exact_messages(blob: bytes, message: str) -> None:
    with pytest.raises(SafetensorsError) as info:
        _read(blob)
    assert info.value.message == f"{NAME}: {message}"
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize(
    ("blob", "rejected"),
    [(blob, rejected) for _, blob, _, rejected in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_the_library_agrees_on_malformed_files(tmp_path: Path, blob: bytes, rejected: bool) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(blob)
    with pytest.raises(SafetensorsError) as info:
        read_header_file(path)
    assert info.value.message.startswith(f"{path}: ")
    if rejected:
        with pytest.raises(SafetensorError):
            _library_view(path)
    else:
        # the library keeps the last duplicate; we refuse the ambiguity
        assert _library_view(path) == {"a": ("I8", (1,))}


def test_a_200mb_header_is_refused_after_reading_8_bytes(tmp_path: Path) -> None:
    declared = 200_000_000
    read = _Counting(struct.pack("<Q", declared))
    with pytest.raises(SafetensorsError, match="exceeds the safetensors limit"):
        read_header(read, 8 + declared + GiB, NAME)
    assert read.calls == [(0, 8)]
    path = tmp_path / "huge.safetensors"
    with path.open("wb") as file:
        file.write(struct.pack("<Q", declared))
        file.truncate(8 + declared)  # sparse: the header bytes are never written or read
    with pytest.raises(SafetensorsError) as info:
        read_header_file(path)
    assert info.value.message == (
        f"{path}: header length 200000000 exceeds the safetensors limit of 100000000 bytes"
    )


def test_a_1gb_sparse_file_reads_only_its_header(tmp_path: Path) -> None:
    raw = json.dumps({"w": _entry("U8", [GiB], 0, GiB), "__metadata__": {"k": "v"}}).encode()
    path = tmp_path / "big.safetensors"
    with path.open("wb") as file:
        file.write(_blob(raw))
        file.truncate(8 + len(raw) + GiB)
    header = read_header_file(path)
    assert header.bytes_read == 8 + len(raw)
    assert header.file_size == 8 + len(raw) + GiB
    assert _our_view(header) == _library_view(path) == {"w": ("U8", (GiB,))}


def test_a_short_read_is_truncation() -> None:
    blob = _blob({"a": U8}, b"\0" * 4)

    def short(start: int, length: int) -> bytes:
        return blob[start : start + length][:-1]

    with pytest.raises(SafetensorsError) as info:
        read_header(short, len(blob), NAME)
    assert info.value.message == f"{NAME}: truncated: read 7 of 8 bytes at offset 0"


def test_a_file_shorter_than_its_stated_size_is_truncation() -> None:
    blob = _blob({"a": U8}, b"\0" * 4)
    size = len(blob) - 12
    with pytest.raises(SafetensorsError) as info:
        _read(blob[:-7], file_size=len(blob))
    assert info.value.message == f"{NAME}: truncated: read {size - 3} of {size} bytes at offset 8"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "{p}: missing"),
        (lambda p: p.mkdir() or p, "{p}: cannot read: Is a directory"),
    ],
)
def test_unreadable_files(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    path = make(tmp_path / "gone.safetensors")
    with pytest.raises(SafetensorsError) as info:
        read_header_file(path)
    assert info.value.message == message.format(p=path)


def test_long_names_are_shortened_in_messages() -> None:
    name = "n" * 500
    with pytest.raises(SafetensorsError) as info:
        _read(_blob({name: _entry("X", [1], 0, 1)}, b"\0"))
    assert (
        info.value.message == f"{NAME}: tensor '{'n' * 79}…': dtype 'X' is not a safetensors dtype"
    )
