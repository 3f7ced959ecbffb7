"""Opening a store from its URI: ``file:///abs``, ``file://relative``, a path, or ``s3://``.

``file://relative/path`` and plain relative paths are taken relative to ``base`` (the
registry root; the current directory when not given), so a registry's pyproject can say
``store = "file://examples/store"``. The S3 endpoint defaults to boto3's own lookup
(``AWS_ENDPOINT_URL``, the AWS config), so an S3-compatible server needs no flag.
"""

from __future__ import annotations

import re
from pathlib import Path

from adapterctl.store.base import Store, StoreError
from adapterctl.store.filestore import FileStore
from adapterctl.store.s3store import S3Store

SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")


def open_store(uri: str, *, endpoint_url: str | None = None, base: Path | None = None) -> Store:
    """The store ``uri`` names; StoreError for a URI no backend understands."""
    match = SCHEME.match(uri)
    if match is None:
        if uri.lower().startswith(("file:", "s3:")):
            raise StoreError(
                f"store URI '{uri}' lacks '//' after its scheme: use file:///abs/path, "
                "file://rel/path or s3://bucket[/prefix]"
            )
        return _file_store(uri, uri, base)
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return _file_store(uri, rest, base)
    if scheme == "s3":
        return _s3_store(uri, rest, endpoint_url)
    raise StoreError(f"unsupported store URI '{uri}': use file:// or s3://")


def _file_store(uri: str, path: str, base: Path | None) -> FileStore:
    if not path:
        raise StoreError(f"store URI '{uri}' has no path: use file:///abs/path or file://rel/path")
    return FileStore((base or Path.cwd()) / path, uri)


def _s3_store(uri: str, rest: str, endpoint_url: str | None) -> S3Store:
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise StoreError(f"store URI '{uri}' has no bucket: use s3://bucket[/prefix]")
    return S3Store(bucket, prefix, uri, endpoint_url=endpoint_url)
