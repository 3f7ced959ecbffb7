"""A sync of several nodes fetches each artifact from the store once, checks it once, and
gives every node its own copy (``serving.cache.Sources``): two real reference nodes on
loopback, each with its own cache, and the sync's temporary folder under ``tmp_path``.
"""

from __future__ import annotations

import errno
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapterctl.serving import cache as cache_module
from adapterctl.serving.cache import Sources, Verification
from adapterctl.serving.desired import DesiredRevision, desired_state
from adapterctl.store.base import Store
from adapterctl.store.filestore import FileStore
from adapterctl.store.s3store import S3Store
from adapterctl.store.uri import open_store
from tests.conftest import BUCKET, isolate_git
from tests.synccheckout import Checkout, cli, head
from tests.syncnode import Faults, RuntimeNode, fault_proxy, runtime_node

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

LOADS = "load support-bot@1.1.0, load sql-helper@1.1.0"


@pytest.fixture(scope="module")
def nodes() -> Iterator[tuple[RuntimeNode, RuntimeNode]]:
    with runtime_node() as first, runtime_node() as second:
        yield first, second


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))


class Two(Checkout[RuntimeNode]):
    """node-a as in the other sync tests, and node-b on a second node with its own cache;
    the system's temporary folder is ``tmp``."""

    def __init__(
        self, tmp_path: Path, nodes: tuple[RuntimeNode, RuntimeNode], proxy: str, faults: Faults
    ) -> None:
        super().__init__(tmp_path, nodes[0], proxy, faults)
        self.other = nodes[1]
        self.other.reset()
        self.cache_b = tmp_path / "cache-b"
        self.config_b = tmp_path / "node-b.yaml"
        text = self.config.read_text().replace("name: node-a", "name: node-b")
        text = text.replace(f"cache_dir: {self.cache}", f"cache_dir: {self.cache_b}")
        self.config_b.write_text(text.replace(f"{proxy}/v1", f"{self.other.url}/v1"))
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()

    def sync(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
        code, out, err = cli(capsys, "sync", "--env", "staging", "--node-config", self.config,
                             "--node-config", self.config_b, "--root", self.root, *args)  # fmt: skip
        assert err == "", err
        return code, out.splitlines()


@pytest.fixture
def two(
    tmp_path: Path, nodes: tuple[RuntimeNode, RuntimeNode], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Two]:
    with fault_proxy(nodes[0].url) as (proxy, faults):
        setup = Two(tmp_path, nodes, proxy, faults)
        monkeypatch.setattr(tempfile, "tempdir", str(setup.tmp))
        yield setup


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The served names fetched from the store, in order (the real fetch still runs)."""
    seen: list[str] = []
    real = cache_module._fetch

    def counted(revision: DesiredRevision, store: FileStore, folder: Path) -> None:
        seen.append(revision.served_name)
        real(revision, store, folder)

    monkeypatch.setattr(cache_module, "_fetch", counted)
    return seen


def test_each_artifact_is_fetched_once_and_every_node_gets_its_own_copy(
    two: Two, fetches: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = two.sync(capsys)
    assert (code, lines) == (
        0,
        [
            f"sync staging at {head(two)} (2 nodes)",
            f"  node-a  converged  {LOADS}",
            f"  node-b  converged  {LOADS}",
            "✓ 2 nodes converged",
        ],
    )
    assert sorted(fetches) == ["sql-helper@1.1.0", "support-bot@1.1.0"]
    for node, cache in ((two.node, two.cache), (two.other, two.cache_b)):
        for name, root in node.engine.loras().items():
            folder = Path(root)
            assert folder.parent == cache / "sha256"
            stored = two.store / "sha256" / folder.name
            assert sorted(p.name for p in folder.iterdir()) == sorted(
                p.name for p in stored.iterdir()
            ), name
            for file in stored.iterdir():
                assert (folder / file.name).read_bytes() == file.read_bytes()
                assert not (folder / file.name).is_symlink()
    assert list(two.tmp.iterdir()) == []  # the sync's checked copies are gone with it


def test_a_tampered_store_object_fails_every_node_and_leaves_nothing(
    two: Two, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = Path(two.path("support-bot@1.1.0")).name
    weights = two.store / "sha256" / digest / "adapter_model.safetensors"
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    code, lines = two.sync(capsys)
    assert code == 1
    for line, node in zip(lines[1:3], ("node-a", "node-b"), strict=True):
        assert line.startswith(
            f"  {node}  FAILED     tampered-artifact: support-bot@1.1.0: adapter_model.safetensors "
            "in the store does not match the manifest"
        )
    assert (two.node.engine.loras(), two.other.engine.loras()) == ({}, {})
    assert list(two.tmp.iterdir()) == []
    for cache in (two.cache, two.cache_b):
        assert not (cache / "sha256" / digest).exists()
        assert [p.name for p in (cache / ".staging").rglob("*") if p.name != "sha256"] == []


def test_a_full_temporary_folder_leaves_each_node_to_fetch_on_its_own(
    two: Two,
    fetches: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small or full TMPDIR costs the sync its shared fetch, never the sync itself."""
    counted = cache_module._fetch

    def full_in_tmp(revision: DesiredRevision, store: FileStore, folder: Path) -> None:
        if folder.is_relative_to(two.tmp):
            fetches.append("(no room)")
            raise OSError(errno.ENOSPC, "No space left on device")
        counted(revision, store, folder)

    monkeypatch.setattr(cache_module, "_fetch", full_in_tmp)
    code, lines = two.sync(capsys, "--parallel", "1")
    assert (code, lines[1:]) == (
        0,
        [f"  node-a  converged  {LOADS}", f"  node-b  converged  {LOADS}", "✓ 2 nodes converged"],
    )
    # the first fetch into TMPDIR fails; from then on every node fetches for itself
    assert fetches == ["(no room)", *(["support-bot@1.1.0", "sql-helper@1.1.0"] * 2)]
    assert list(two.tmp.iterdir()) == []


def test_nodes_asking_at_once_wait_for_one_fetch(two: Two, fetches: list[str]) -> None:
    revision = desired_state(two.root, "staging", "HEAD").revisions[0]
    store = FileStore(two.store, two.store.as_uri())
    sources, folders = Sources(), list[Path | None]()
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        folders.append(sources.checked(revision, store, Verification(None, {})))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetches == [revision.served_name]
    assert (len(folders), len(set(folders))) == (8, 1)
    assert folders[0] is not None
    assert folders[0].is_relative_to(two.tmp)
    sources.close()
    assert list(two.tmp.iterdir()) == []


def test_nodes_on_an_s3_store_share_one_client_and_one_download(
    two: Two,
    fetches: list[str],
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opening an s3:// store makes a boto3 client (milliseconds of CPU each): once a sync."""
    uri = f"s3://{BUCKET}/sync-{two.tmp.parent.name}"
    bucket = S3Store(BUCKET, f"sync-{two.tmp.parent.name}", uri, endpoint_url=moto_endpoint)
    for folder in (two.store / "sha256").iterdir():
        bucket.put(f"sha256:{folder.name}", folder)
    for config in (two.config, two.config_b):
        config.write_text(
            config.read_text().replace(f"store: {two.store.as_uri()}", f"store: {uri}")
        )
    opened: list[str] = []

    def counted(uri: str, *, endpoint_url: str | None = None, base: Path | None = None) -> Store:
        opened.append(uri)
        return open_store(uri, endpoint_url=endpoint_url, base=base)

    monkeypatch.setattr("adapterctl.serving.sync.open_store", counted)
    code, out, err = cli(capsys, "sync", "--env", "staging", "--node-config", two.config,
                         "--node-config", two.config_b, "--root", two.root,
                         "--endpoint-url", moto_endpoint)  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        f"  node-a  converged  {LOADS}",
        f"  node-b  converged  {LOADS}",
        "✓ 2 nodes converged",
    ]
    assert opened == [uri]
    assert sorted(fetches) == ["sql-helper@1.1.0", "support-bot@1.1.0"]
    assert list(two.tmp.iterdir()) == []


def test_every_node_gets_the_checked_bytes_when_the_store_changes_under_the_sync(
    two: Two, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: the store's object is swapped for other weights after the sync checked it.
    Every node's copy comes from the sync's checked copy, never from the store again."""
    digest = Path(two.path("support-bot@1.1.0")).name
    weights = two.store / "sha256" / digest / "adapter_model.safetensors"
    expected = weights.read_bytes()
    other = next(
        path.read_bytes()
        for path in (two.store / "sha256").glob("*/adapter_model.safetensors")
        if path.read_bytes() != expected
    )

    def swap() -> None:
        weights.chmod(0o644)
        weights.write_bytes(other)

    two.faults.at_load = swap  # when node-a's first load reaches it
    code, lines = two.sync(capsys, "--parallel", "1")  # node-b's turn comes after the swap
    assert (code, lines[-1]) == (0, "✓ 2 nodes converged")
    assert weights.read_bytes() == other  # the store was swapped under the sync
    for node in (two.node, two.other):
        loaded = Path(node.engine.loras()["support-bot@1.1.0"])
        assert (loaded / "adapter_model.safetensors").read_bytes() == expected


def test_a_missing_temporary_folder_leaves_each_node_to_fetch_on_its_own(
    two: Two,
    fetches: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(two.tmp / "missing"))
    code, lines = two.sync(capsys)
    assert (code, lines[-1]) == (0, "✓ 2 nodes converged")
    assert sorted(fetches) == sorted(["support-bot@1.1.0", "sql-helper@1.1.0"] * 2)
