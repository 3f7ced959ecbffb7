"""Reading safetensors headers without reading tensor data.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8
JSON (tensor name → ``{"dtype", "shape", "data_offsets"}`` plus an optional
``"__metadata__"`` object of strings), then the data buffer. Offsets are relative to the
start of the data buffer; the tensors must tile it exactly, in any order.

Only ``8 + N`` bytes are ever read, through a ``read(start, length)`` callable, so the
same code serves local files and range reads from an object store. Every violation of
the format becomes a :class:`SafetensorsError` naming the file and, where there is one,
the tensor. The checks are those of the ``safetensors`` library itself, except that a
name given twice in the header is rejected (the library keeps the last one).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from adapterctl.errors import InputError
from adapterctl.inspect.jsonkeys import DuplicateKeyError, unique_keys

MAX_HEADER_BYTES = 100_000_000
"""The largest header the safetensors library accepts (its ``MAX_HEADER_SIZE``)."""
LENGTH_BYTES = 8
METADATA_KEY = "__metadata__"

DTYPE_BITS: Mapping[str, int] = MappingProxyType(
    {"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
    | dict.fromkeys(["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0"], 8)
    | dict.fromkeys(["F8_E4M3FNUZ", "F8_E5M2FNUZ"], 8)
    | dict.fromkeys(["I16", "U16", "F16", "BF16"], 16)
    | dict.fromkeys(["I32", "U32", "F32"], 32)
    | dict.fromkeys(["C64", "F64", "I64", "U64"], 64)
)
"""Every dtype of safetensors 0.8 → its size in bits (F4 and F6 pack below a byte)."""

_FIELDS = ("dtype", "shape", "data_offsets")
_SHOWN = 80
_MAX_BITS = 8 << 64
_KINDS: dict[type, str] = {
    dict: "a JSON object",
    list: "a JSON array",
    str: "a JSON string",
    int: "a JSON number",
    float: "a JSON number",
    bool: "a JSON boolean",
    type(None): "JSON null",
}


class SafetensorsError(InputError):
    """A safetensors file whose header cannot be used."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """One tensor of the header; ``start``/``end`` are its data_offsets (data-relative)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int

    @property
    def nbytes(self) -> int:
        """The tensor's size in bytes."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Header:
    """A validated header: tensors in file order, metadata, and what reading it cost."""

    tensors: Mapping[str, Tensor]
    metadata: Mapping[str, str]
    header_size: int
    """``N``, the length of the JSON header in bytes."""
    file_size: int
    bytes_read: int
    """Bytes actually fetched through ``read``: ``8 + N`` on success."""

    @property
    def data_start(self) -> int:
        """File offset of the data buffer; add it to a tensor's start/end for file offsets."""
        return LENGTH_BYTES + self.header_size


class _Reader:
    """Wraps ``read`` to count the bytes fetched and reject short reads."""

    def __init__(self, read: Callable[[int, int], bytes], name: str) -> None:
        self._read = read
        self._name = name
        self.bytes_read = 0

    def take(self, start: int, length: int) -> bytes:
        """Exactly ``length`` bytes at ``start``, or a "truncated" error."""
        data = self._read(start, length)
        self.bytes_read += len(data)
        if len(data) != length:
            raise SafetensorsError(
                f"{self._name}: truncated: read {len(data)} of {length} bytes at offset {start}"
            )
        return data


def read_header_file(path: Path) -> Header:
    """Read and validate the header of the local file ``path`` (``8 + N`` bytes only)."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size

            def read(start: int, length: int) -> bytes:
                file.seek(start)
                return file.read(length)

            return read_header(read, size, str(path))
    except FileNotFoundError:
        raise SafetensorsError(f"{path}: missing") from None
    except OSError as exc:
        raise SafetensorsError(f"{path}: cannot read: {exc.strerror or exc}") from None


def read_header(read: Callable[[int, int], bytes], file_size: int, name: str) -> Header:
    """Read and validate a header through ``read(start, length)``; ``name`` is for messages."""
    reader = _Reader(read, name)
    size = _header_size(reader, file_size, name)
    document = _parse(reader.take(LENGTH_BYTES, size), name)
    metadata = _metadata(document.pop(METADATA_KEY, None), name)
    data_size = file_size - LENGTH_BYTES - size
    tensors = [_tensor(key, entry, data_size, name) for key, entry in document.items()]
    tensors.sort(key=lambda t: (t.start, t.end, t.name))
    _check_layout(tensors, data_size, name)
    return Header(
        tensors=MappingProxyType({t.name: t for t in tensors}),
        metadata=MappingProxyType(metadata),
        header_size=size,
        file_size=file_size,
        bytes_read=reader.bytes_read,
    )


def _header_size(reader: _Reader, file_size: int, name: str) -> int:
    if file_size < LENGTH_BYTES:
        raise SafetensorsError(
            f"{name}: truncated: {_bytes(file_size)}, "
            "a safetensors file starts with an 8-byte header length"
        )
    (size,) = struct.unpack("<Q", reader.take(0, LENGTH_BYTES))
    if size > MAX_HEADER_BYTES:
        raise SafetensorsError(
            f"{name}: header length {size} exceeds the safetensors limit "
            f"of {MAX_HEADER_BYTES} bytes"
        )
    if LENGTH_BYTES + size > file_size:
        raise SafetensorsError(
            f"{name}: header length {size} runs past the end of the file ({_bytes(file_size)})"
        )
    return int(size)


def _parse(raw: bytes, name: str) -> dict[str, object]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise SafetensorsError(
            f"{name}: header is not UTF-8: byte 0x{bad:02x} at header offset {exc.start}"
        ) from None
    try:
        document = json.loads(text, object_pairs_hook=unique_keys)
    except DuplicateKeyError as exc:
        raise SafetensorsError(f"{name}: header has the key {_quote(exc.key)} twice") from None
    except json.JSONDecodeError as exc:
        raise SafetensorsError(f"{name}: header is not JSON: {exc}") from None
    except RecursionError:
        raise SafetensorsError(f"{name}: header is not JSON: nested too deeply") from None
    except ValueError as exc:
        raise SafetensorsError(f"{name}: header is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SafetensorsError(
            f"{name}: header is {_kind(document)}, expected a JSON object of tensors"
        )
    return document


def _metadata(value: object, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SafetensorsError(
            f"{name}: '{METADATA_KEY}' must be an object of strings, got {_kind(value)}"
        )
    for key, item in value.items():
        if not isinstance(item, str):
            raise SafetensorsError(
                f"{name}: '{METADATA_KEY}' key {_quote(key)} must map to a string, "
                f"got {_json(item)}"
            )
    return dict(value)


def _tensor(key: str, entry: object, data_size: int, name: str) -> Tensor:
    where = f"{name}: tensor {_quote(key)}"
    if not isinstance(entry, dict):
        raise SafetensorsError(
            f"{where}: expected an object with dtype, shape and data_offsets, got {_kind(entry)}"
        )
    for field in _FIELDS:
        if field not in entry:
            raise SafetensorsError(f"{where}: missing '{field}'")
    dtype = _dtype(entry["dtype"], where)
    shape = _naturals(entry["shape"])
    if shape is None:
        raise SafetensorsError(
            f"{where}: 'shape' must be a list of non-negative integers, got {_json(entry['shape'])}"
        )
    offsets = _naturals(entry["data_offsets"])
    if offsets is None or len(offsets) != 2:
        raise SafetensorsError(
            f"{where}: 'data_offsets' must be two non-negative integers [begin, end], "
            f"got {_json(entry['data_offsets'])}"
        )
    tensor = Tensor(name=key, dtype=dtype, shape=shape, start=offsets[0], end=offsets[1])
    _check_extent(tensor, data_size, where)
    return tensor


def _dtype(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SafetensorsError(f"{where}: 'dtype' must be a string, got {_json(value)}")
    if value not in DTYPE_BITS:
        raise SafetensorsError(f"{where}: dtype {_quote(value)} is not a safetensors dtype")
    return value


def _naturals(value: object) -> tuple[int, ...] | None:
    """``value`` as a tuple of non-negative ints, or None if it is not a list of them."""
    if not isinstance(value, list):
        return None
    if not all(type(item) is int and item >= 0 for item in value):
        return None
    return tuple(value)


def _check_extent(tensor: Tensor, data_size: int, where: str) -> None:
    offsets = f"data_offsets [{tensor.start}, {tensor.end}]"
    if tensor.end < tensor.start:
        raise SafetensorsError(f"{where}: {offsets} end before they begin")
    if tensor.end > data_size:
        raise SafetensorsError(
            f"{where}: {offsets} run past the end of the data ({_bytes(data_size)})"
        )
    described = f"{tensor.dtype} {_json(list(tensor.shape))}"
    bits = _bits(tensor)
    if bits is None:
        raise SafetensorsError(f"{where}: {described} needs more than 2^64 bytes")
    if bits % 8:
        raise SafetensorsError(f"{where}: {described} is {bits} bits, not a whole number of bytes")
    if bits // 8 != tensor.nbytes:
        raise SafetensorsError(
            f"{where}: {offsets} hold {_bytes(tensor.nbytes)}, "
            f"but {described} needs {_bytes(bits // 8)}"
        )


def _bits(tensor: Tensor) -> int | None:
    """The tensor's size in bits, or None past 2^64 bytes (no huge products)."""
    if 0 in tensor.shape:
        return 0
    bits = DTYPE_BITS[tensor.dtype]
    for dim in tensor.shape:
        bits *= dim
        if bits > _MAX_BITS:
            return None
    return bits


def _check_layout(tensors: list[Tensor], data_size: int, name: str) -> None:
    """Tensors sorted by offset must tile ``[0, data_size)`` with no gap or overlap."""
    previous: Tensor | None = None
    for tensor in tensors:
        cursor = previous.end if previous else 0
        if previous is not None and tensor.start < cursor:
            raise SafetensorsError(f"{name}: tensors {_span(previous)} and {_span(tensor)} overlap")
        if tensor.start > cursor:
            before = (
                f"between tensors {_quote(previous.name)} (ends at {previous.end}) and"
                if previous
                else "before the first tensor"
            )
            raise SafetensorsError(
                f"{name}: {_bytes(tensor.start - cursor)} unused {before} "
                f"{_quote(tensor.name)} (starts at {tensor.start})"
            )
        previous = tensor
    _check_tail(previous, data_size, name)


def _check_tail(last: Tensor | None, data_size: int, name: str) -> None:
    end = last.end if last else 0
    if end == data_size:
        return
    after = f"the last tensor {_quote(last.name)} (ends at {end})" if last else "the header"
    raise SafetensorsError(
        f"{name}: {_bytes(data_size - end)} unused after {after}; "
        "the data must end where the last tensor does"
    )


def _span(tensor: Tensor) -> str:
    return f"{_quote(tensor.name)} [{tensor.start}, {tensor.end}]"


def _bytes(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"


def _quote(text: str) -> str:
    """``text`` in single quotes, control characters escaped, long names shortened."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 1] + "…"
    return f"'{text}'"


def _json(value: object) -> str:
    """A short JSON rendering of ``value`` for messages."""
    text = json.dumps(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _kind(value: object) -> str:
    return _KINDS.get(type(value), "a JSON value")
