"""Both store backends behave the same: the file store on tmp_path, S3 against moto on loopback."""

from __future__ import annotations

import stat
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from adapterctl.store.base import Store, StoreError
from adapterctl.store.filestore import FileStore
from adapterctl.store.s3store import S3Store
from adapterctl.store.uri import open_store
from tests.conftest import BUCKET

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
CONTENT = {"adapter_model.safetensors": bytes(range(256)) * 40, "adapter_config.json": b"{}"}


def _s3_store(endpoint: str) -> S3Store:
    prefix = f"run-{uuid.uuid4().hex}"
    return S3Store(BUCKET, prefix, f"s3://{BUCKET}/{prefix}", endpoint_url=endpoint)


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "file":
        return FileStore(tmp_path / "store", "file://store")
    return _s3_store(request.getfixturevalue("moto_endpoint"))


@pytest.fixture
def s3(moto_endpoint: str) -> S3Store:
    return _s3_store(moto_endpoint)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
    return folder


def _stored_names(store: Store) -> list[str]:
    """Everything the backend holds, temporary leftovers included."""
    if isinstance(store, FileStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*"))
    assert isinstance(store, S3Store)
    client = boto3.client("s3", endpoint_url=store.endpoint_url)
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{store.prefix}/")
    return sorted(item["Key"].removeprefix(f"{store.prefix}/") for item in listing["Contents"])


def _missing(store: Store, digest: str = DIGEST) -> str:
    return f"artifact {digest} is not in the store {store.uri}"


def test_round_trip(store: Store, source: Path, tmp_path: Path) -> None:
    model = CONTENT["adapter_model.safetensors"]
    assert not store.exists(DIGEST)
    assert store.put(DIGEST, source) is True
    assert store.exists(DIGEST)
    assert store.files(DIGEST) == {name: len(data) for name, data in CONTENT.items()}
    with store.open(DIGEST, "adapter_model.safetensors") as handle:
        assert handle.read(3) == model[:3]
        assert handle.read() == model[3:]
    assert store.read_range(DIGEST, "adapter_model.safetensors", 300, 5) == model[300:305]
    assert store.read_range(DIGEST, "adapter_model.safetensors", len(model) - 2, 10) == model[-2:]
    assert store.read_range(DIGEST, "adapter_model.safetensors", len(model) + 5, 10) == b""
    assert store.read_range(DIGEST, "adapter_config.json", 0, 0) == b""
    store.fetch(DIGEST, tmp_path / "out" / "copy")
    fetched = {p.name: p.read_bytes() for p in (tmp_path / "out" / "copy").iterdir()}
    assert fetched == CONTENT
    assert list(store.digests()) == [DIGEST]
    store.delete(DIGEST)
    assert not store.exists(DIGEST)
    assert list(store.digests()) == []


def test_digests_lists_every_artifact(store: Store, source: Path) -> None:
    assert list(store.digests()) == []
    store.put(OTHER, source)
    store.put(DIGEST, source)
    assert list(store.digests()) == [DIGEST, OTHER]


def test_put_twice_writes_once(store: Store, source: Path) -> None:
    assert store.put(DIGEST, source) is True
    (source / "adapter_config.json").write_bytes(b"changed")
    assert store.put(DIGEST, source) is False
    assert store.read_range(DIGEST, "adapter_config.json", 0, 100) == b"{}"


def test_concurrent_writers_one_wins(store: Store, source: Path, tmp_path: Path) -> None:
    barrier = threading.Barrier(8)

    def write(_: int) -> bool:
        barrier.wait()
        return store.put(DIGEST, source)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(write, range(8)))
    assert results.count(True) == 1
    store.fetch(DIGEST, tmp_path / "copy")
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == CONTENT
    folder = "sha256/" + DIGEST.removeprefix("sha256:")
    expected = [f"{folder}/{name}" for name in sorted(CONTENT)]
    if isinstance(store, FileStore):
        assert _stored_names(store) == ["sha256", folder, *expected]
    else:
        assert _stored_names(store) == [f"{folder}/.complete", *expected]


def test_names_that_escape_are_refused(store: Store, source: Path) -> None:
    store.put(DIGEST, source)
    escape = "'../secret' is not a valid artifact file name (it would escape the store)"
    with pytest.raises(StoreError) as error:
        store.open(DIGEST, "../secret")
    assert error.value.message == escape
    with pytest.raises(StoreError) as error:
        store.read_range(DIGEST, "../secret", 0, 1)
    assert error.value.message == escape
    with pytest.raises(StoreError) as error:
        store.open(DIGEST, ".complete/../../x")
    assert error.value.message == (
        "'.complete/../../x' is not a valid artifact file name (it would escape the store)"
    )


@pytest.mark.parametrize("digest", ["sha256:../../etc", "md5:" + "ab" * 16, "sha256:" + "AB" * 32])
def test_bad_digests_are_refused(store: Store, source: Path, digest: str) -> None:
    expected = f"'{digest}' is not an artifact digest (sha256:<64 hex digits>)"
    calls: list[Callable[[], object]] = [
        lambda: store.exists(digest),
        lambda: store.files(digest),
        lambda: store.put(digest, source),
        lambda: store.read_range(digest, "adapter_config.json", 0, 1),
        lambda: store.local_path(digest),
        lambda: store.delete(digest),
    ]
    for call in calls:
        with pytest.raises(StoreError) as error:
            call()
        assert error.value.message == expected


def test_missing_artifact(store: Store, tmp_path: Path) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.files(DIGEST),
        lambda: store.open(DIGEST, "adapter_config.json"),
        lambda: store.read_range(DIGEST, "adapter_config.json", 0, 1),
        lambda: store.fetch(DIGEST, tmp_path / "copy"),
        lambda: store.delete(DIGEST),
    ]
    for call in calls:
        with pytest.raises(StoreError) as error:
            call()
        assert error.value.message == _missing(store)
    assert not (tmp_path / "copy").exists()


def test_missing_file_in_artifact(store: Store, source: Path) -> None:
    store.put(DIGEST, source)
    with pytest.raises(StoreError) as error:
        store.open(DIGEST, "tokenizer.json")
    assert error.value.message == (
        f"artifact {DIGEST} in the store {store.uri} has no file 'tokenizer.json'"
    )


def test_fetch_refuses_an_existing_target(store: Store, source: Path, tmp_path: Path) -> None:
    store.put(DIGEST, source)
    with pytest.raises(StoreError) as error:
        store.fetch(DIGEST, source)
    assert error.value.message == f"cannot fetch into {source}: it already exists"


def test_source_must_be_a_flat_folder_of_files(store: Store, source: Path) -> None:
    (source / "nested").mkdir()
    with pytest.raises(StoreError) as error:
        store.put(DIGEST, source)
    assert error.value.message == f"cannot store {source}: nested is a folder (artifacts are flat)"
    (source / "nested").rmdir()
    (source / "link").symlink_to(source / "adapter_config.json")
    with pytest.raises(StoreError) as error:
        store.put(DIGEST, source)
    assert error.value.message == f"cannot store {source}: link is a symlink (copy the file)"
    with pytest.raises(StoreError) as error:
        store.put(DIGEST, source / "missing")
    assert error.value.message == f"cannot store {source / 'missing'}: it is not a folder"
    assert not store.exists(DIGEST)


def test_empty_source_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as error:
        store.put(DIGEST, tmp_path)
    assert error.value.message == f"cannot store {tmp_path}: the folder is empty"


def test_file_store_artifacts_are_read_only(tmp_path: Path, source: Path) -> None:
    store = FileStore(tmp_path / "store", "file://store")
    store.put(DIGEST, source)
    folder = store.local_path(DIGEST)
    assert folder == tmp_path / "store" / "sha256" / DIGEST.removeprefix("sha256:")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o444}
    store.delete(DIGEST)
    assert list((tmp_path / "store" / "sha256").iterdir()) == []


def test_file_store_ignores_temporary_folders(tmp_path: Path, source: Path) -> None:
    store = FileStore(tmp_path / "store", "file://store")
    leftover = tmp_path / "store" / "sha256" / f".tmp-{DIGEST.removeprefix('sha256:')}-x1"
    leftover.mkdir(parents=True)
    assert list(store.digests()) == []
    assert not store.exists(DIGEST)
    assert store.put(DIGEST, source) is True


def test_file_store_refuses_paths_leaving_the_root(tmp_path: Path, source: Path) -> None:
    outside = tmp_path / "outside"
    FileStore(outside, "file://outside").put(DIGEST, source)
    store = FileStore(tmp_path / "store", "file://store")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "sha256").symlink_to(outside / "sha256")
    with pytest.raises(StoreError) as error:
        store.files(DIGEST)
    folder = tmp_path / "store" / "sha256" / DIGEST.removeprefix("sha256:")
    outside_message = f"{folder} resolves outside the store file://store; refusing to use it"
    assert error.value.message == outside_message


def test_s3_artifact_without_marker_is_invisible(s3: S3Store, source: Path) -> None:
    client = boto3.client("s3", endpoint_url=s3.endpoint_url)
    key = f"{s3.prefix}/sha256/{DIGEST.removeprefix('sha256:')}/adapter_config.json"
    client.put_object(Bucket=BUCKET, Key=key, Body=b"half")
    assert not s3.exists(DIGEST)
    assert list(s3.digests()) == []
    with pytest.raises(StoreError) as error:
        s3.read_range(DIGEST, "adapter_config.json", 0, 4)
    assert error.value.message == _missing(s3)
    assert s3.put(DIGEST, source) is True
    assert s3.read_range(DIGEST, "adapter_config.json", 0, 4) == b"{}"
    assert s3.local_path(DIGEST) is None


def test_s3_refuses_the_marker_name(s3: S3Store, source: Path) -> None:
    (source / ".complete").write_bytes(b"{}")
    with pytest.raises(StoreError) as error:
        s3.put(DIGEST, source)
    assert error.value.message == f"cannot store {source}: the file name .complete is reserved"


def test_s3_missing_bucket_is_a_clear_error(moto_endpoint: str) -> None:
    store = S3Store("no-such-bucket", "x", "s3://no-such-bucket/x", endpoint_url=moto_endpoint)
    with pytest.raises(StoreError) as error:
        store.exists(DIGEST)
    assert error.value.message == (
        "s3://no-such-bucket/x: NoSuchBucket: The specified bucket does not exist"
    )
    assert error.value.hint == "create the bucket, or fix the bucket name in the store URI"


def test_s3_needs_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(StoreError) as error:
        S3Store(BUCKET, "", f"s3://{BUCKET}")
    assert error.value.message == "the s3:// store needs boto3: pip install 'adapterctl[s3]'"


@pytest.mark.parametrize(
    ("uri", "root"),
    [
        ("file:///srv/store", Path("/srv/store")),
        ("file://examples/store", Path("/repo/examples/store")),
        ("examples/store", Path("/repo/examples/store")),
        ("/srv/store", Path("/srv/store")),
    ],
)
def test_open_store_file_uris(uri: str, root: Path) -> None:
    store = open_store(uri, base=Path("/repo"))
    assert isinstance(store, FileStore)
    assert (store.root, store.uri) == (root, uri)


def test_open_store_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("file://store")
    assert isinstance(store, FileStore)
    assert store.root == tmp_path / "store"


@pytest.mark.parametrize(
    ("uri", "prefix"),
    [("s3://adapters", ""), ("s3://adapters/", ""), ("s3://adapters/team/prod/", "team/prod")],
)
def test_open_store_s3_uris(moto_endpoint: str, uri: str, prefix: str) -> None:
    store = open_store(uri, endpoint_url=moto_endpoint)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.uri) == ("adapters", prefix, uri)
    assert store.endpoint_url == moto_endpoint


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/x", "unsupported store URI 'gs://bucket/x': use file:// or s3://"),
        ("s3://", "store URI 's3://' has no bucket: use s3://bucket[/prefix]"),
        ("s3:///x", "store URI 's3:///x' has no bucket: use s3://bucket[/prefix]"),
        ("file://", "store URI 'file://' has no path: use file:///abs/path or file://rel/path"),
    ],
)
def test_open_store_refuses_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(StoreError) as error:
        open_store(uri)
    assert error.value.message == message
