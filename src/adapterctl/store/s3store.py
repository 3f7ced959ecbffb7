"""The ``s3://`` backend: objects ``<prefix>/sha256/<hex>/<name>`` and a completion marker.

S3 cannot write several objects atomically, so an artifact becomes visible only through its
marker ``<prefix>/sha256/<hex>/.complete`` (JSON: file name → size), written last with a
conditional PUT (``If-None-Match: *``): of concurrent writers exactly one creates it, the
others see it and report that the artifact was already stored. Readers trust the marker
only, so a half-uploaded artifact is invisible and a later ``put`` completes it.

boto3 is an optional dependency (``adapterctl[s3]``), imported when a store is opened. Every
boto3/botocore error becomes a :class:`StoreError` naming the store URI.
"""

from __future__ import annotations

import importlib
import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from adapterctl.store.base import StoreError, check_digest, check_name, relative_key
from adapterctl.store.filestore import HEX, fetch_into, source_files

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MARKER = ".complete"
NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
CONFLICT_RETRIES = 5
_CREDENTIALS_HINT = (
    "check the AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
_HINTS = {
    "NoSuchBucket": "create the bucket, or fix the bucket name in the store URI",
    "AccessDenied": f"{_CREDENTIALS_HINT} and that they may read, write and list the bucket",
    "InvalidAccessKeyId": _CREDENTIALS_HINT,
    "SignatureDoesNotMatch": _CREDENTIALS_HINT,
    "NoCredentialsError": _CREDENTIALS_HINT,
    "EndpointConnectionError": "check AWS_ENDPOINT_URL and that the endpoint is reachable",
}


@dataclass(frozen=True)
class _Refused:
    """An S3 error code the caller asked to handle itself."""

    code: str


class S3Store:
    """A content-addressed store in an S3 (or S3-compatible) bucket."""

    def __init__(self, bucket: str, prefix: str, uri: str, endpoint_url: str | None = None) -> None:
        try:
            boto3 = importlib.import_module("boto3")
            boto3_errors = importlib.import_module("boto3.exceptions")
            botocore_errors = importlib.import_module("botocore.exceptions")
            config = importlib.import_module("botocore.config")
        except ImportError as error:
            raise StoreError("the s3:// store needs boto3: pip install 'adapterctl[s3]'") from error
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = uri
        self.endpoint_url = endpoint_url
        self._client_error: type[Exception] = botocore_errors.ClientError
        self._errors: tuple[type[Exception], ...] = (
            botocore_errors.ClientError,
            botocore_errors.BotoCoreError,
            boto3_errors.Boto3Error,
            ValueError,  # botocore's "Invalid endpoint: ..."
        )
        custom = endpoint_url or _env("AWS_ENDPOINT_URL_S3") or _env("AWS_ENDPOINT_URL")
        # S3-compatible servers (MinIO, Ceph, moto) expect path-style addressing.
        options = config.Config(s3={"addressing_style": "path"}) if custom else None
        with self._mapped():
            self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=options)

    def exists(self, digest: str) -> bool:
        return self._marker(digest) is not None

    def files(self, digest: str) -> dict[str, int]:
        marker = self._marker(digest)
        if marker is None:
            raise StoreError(f"artifact {digest} is not in the store {self.uri}")
        return marker

    def put(self, digest: str, source: Path) -> bool:
        if self.exists(digest):
            return False
        files = source_files(source)
        if any(path.name == MARKER for path in files):
            raise StoreError(f"cannot store {source}: the file name {MARKER} is reserved")
        sizes: dict[str, int] = {}
        for path in files:
            sizes[path.name] = path.stat().st_size
            self._call("upload_file", Filename=str(path), Key=self._key(digest, path.name))
        return self._write_marker(digest, sizes)

    def open(self, digest: str, name: str) -> BinaryIO:
        self._size(digest, name)
        result = self._call("get_object", Key=self._key(digest, name))
        return io.BufferedReader(_BodyReader(result["Body"], self._mapped))

    def read_range(self, digest: str, name: str, start: int, length: int) -> bytes:
        if start < 0 or length < 0:
            raise ValueError(f"invalid byte range: start={start}, length={length}")
        end = min(start + length, self._size(digest, name)) - 1
        if end < start:
            return b""
        result = self._call("get_object", Key=self._key(digest, name), Range=f"bytes={start}-{end}")
        with self._mapped():
            return bytes(result["Body"].read())

    def fetch(self, digest: str, target: Path) -> None:
        sizes = self.files(digest)

        def fill(temp: Path) -> None:
            for name, size in sizes.items():
                path = temp / name
                self._call("download_file", Key=self._key(digest, name), Filename=str(path))
                if path.stat().st_size != size:
                    raise StoreError(
                        f"artifact {digest} in the store {self.uri} is damaged: {name} is "
                        f"{path.stat().st_size} bytes, its marker says {size}"
                    )

        fetch_into(target, fill)

    def digests(self) -> Iterator[str]:
        root = self._key_prefix() + "sha256/"
        for key in self._list(root):
            hex_digest, _, name = key.removeprefix(root).partition("/")
            if name == MARKER and HEX.match(hex_digest):
                yield f"sha256:{hex_digest}"

    def delete(self, digest: str) -> None:
        self.files(digest)
        self._call("delete_object", Key=self._key(digest, MARKER))  # now invisible
        keys = list(self._list(self._key(digest) + "/"))
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            result = self._call("delete_objects", Delete={"Objects": batch, "Quiet": True})
            if failures := result.get("Errors"):
                failure = failures[0]
                raise StoreError(
                    f"{self.uri}: cannot delete {failure.get('Key')}: "
                    f"{failure.get('Code')}: {failure.get('Message')}"
                )

    def local_path(self, digest: str) -> Path | None:
        check_digest(digest)
        return None  # objects in a bucket have no local folder

    def _write_marker(self, digest: str, sizes: dict[str, int]) -> bool:
        body = json.dumps(sizes, sort_keys=True).encode()
        key = self._key(digest, MARKER)
        for _ in range(CONFLICT_RETRIES):
            result = self._call("put_object", RACE, Key=key, Body=body, IfNoneMatch="*")
            if not isinstance(result, _Refused):
                return True
            if result.code == "PreconditionFailed":
                return False  # another writer stored it first
        raise StoreError(f"{self.uri}: concurrent writers kept conflicting on {digest}; retry")

    def _marker(self, digest: str) -> dict[str, int] | None:
        result = self._call("get_object", NOT_FOUND, Key=self._key(digest, MARKER))
        if isinstance(result, _Refused):
            return None
        with self._mapped():
            raw = result["Body"].read()
        try:
            sizes = json.loads(raw)
            if isinstance(sizes, dict) and all(
                check_name(name) != MARKER and type(size) is int and size >= 0
                for name, size in sizes.items()
            ):
                return sizes
        except (ValueError, StoreError):
            pass
        raise StoreError(f"artifact {digest} in the store {self.uri} has a damaged {MARKER}")

    def _size(self, digest: str, name: str) -> int:
        check_name(name)
        sizes = self.files(digest)
        if name not in sizes:
            raise StoreError(f"artifact {digest} in the store {self.uri} has no file '{name}'")
        return sizes[name]

    def _key_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _key(self, digest: str, name: str | None = None) -> str:
        return self._key_prefix() + relative_key(digest, name)

    def _list(self, prefix: str) -> Iterator[str]:
        with self._mapped():
            pages = self._client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])

    def _call(self, method: str, ok: frozenset[str] = frozenset(), **params: Any) -> Any:
        """``client.<method>(Bucket=..., **params)``; an error whose code is in ``ok`` is
        returned as :class:`_Refused`, every other error raised as a StoreError."""
        try:
            return getattr(self._client, method)(Bucket=self.bucket, **params)
        except self._client_error as error:
            code = _code(error)
            if code in ok:
                return _Refused(code)
            raise self._error(error) from error
        except self._errors as error:
            raise self._error(error) from error

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except self._errors as error:
            raise self._error(error) from error

    def _error(self, error: Exception) -> StoreError:
        cause = error.__cause__ or error.__context__  # S3UploadFailedError wraps a ClientError
        if isinstance(cause, self._client_error):
            error = cause
        if isinstance(error, self._client_error):
            code = _code(error)
            details = getattr(error, "response", {}).get("Error", {})
            message = details.get("Message") or str(error)
            return StoreError(f"{self.uri}: {code}: {message}", hint=_HINTS.get(code))
        return StoreError(f"{self.uri}: {error}", hint=_HINTS.get(type(error).__name__))


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", "Error"))


class _BodyReader(io.RawIOBase):
    """A botocore StreamingBody as a raw binary stream, its errors mapped to StoreError."""

    def __init__(self, body: Any, mapped: Callable[[], AbstractContextManager[None]]) -> None:
        super().__init__()
        self._body = body
        self._mapped = mapped

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        with self._mapped():
            data: bytes = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
