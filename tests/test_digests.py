"""Artifact digests agree with model-signing's; the digest cache only skips unchanged files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import pytest
from model_signing import hashing
from model_signing._signing.signing import Payload

from adapterctl.store import digests
from adapterctl.store.base import StoreError
from adapterctl.store.digests import (
    DigestCache,
    DigestError,
    FileDigest,
    digest_directory,
    sha256_file,
    subject_digest,
)

# model_signing's Config.__init__ is unannotated: give it a type once, here.
_config: Callable[[], hashing.Config] = hashing.Config

NESTED = {
    "a/b": b"slash",
    "a-b/x": b"dash",
    "a/b-c": b"dash in a subfolder",
    "a.b": b"dot",
    "a0": b"zero",
    "Z/upper.bin": b"upper case sorts first",
    "deep/1/2/3/weights.bin": bytes(range(256)) * 64,
    "empty": b"",
    ".hidden": b"dotfiles are part of the model",
}
GIT = {
    ".gitignore": b"*.tmp\n",
    ".gitattributes": b"* -text\n",
    ".git/config": b"[core]\n",
    ".git/objects/ab/cdef": b"blob",
    ".github/workflows/ci.yml": b"on: push\n",
    "sub/.gitignore": b"nested git files are not ignored\n",
    ".gitkeep": b"not a git path either",
    "model.sig": b"the library API does not ignore a signature file",
}


def build(root: Path, files: Mapping[str, bytes]) -> Path:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


def model_signing_subject(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """The subject digest and (name, digest) resources that model-signing computes."""
    manifest = _config().use_file_serialization().hash(path)
    subject = Payload(manifest).statement.pb.subject[0].digest["sha256"]
    resources = [
        (item.identifier, "sha256:" + item.digest.digest_hex)
        for item in manifest.resource_descriptors()
    ]
    return "sha256:" + str(subject), resources


@pytest.mark.parametrize(
    "files",
    [NESTED, NESTED | GIT, {"adapter_model.safetensors": b"\0" * 1000}, {"only/empty": b""}],
    ids=["nested", "git-files", "single", "empty-file"],
)
def test_agrees_with_model_signing(tmp_path: Path, files: Mapping[str, bytes]) -> None:
    root = build(tmp_path / "artifact", files)
    result = digest_directory(root)
    expected, resources = model_signing_subject(root)
    assert result.digest == expected
    assert [(f.name, f.digest) for f in result.files] == resources


def test_order_is_path_parts_not_plain_strings(tmp_path: Path) -> None:
    names = [f.name for f in digest_directory(build(tmp_path / "artifact", NESTED)).files]
    assert names.index("a/b") < names.index("a/b-c") < names.index("a-b/x")
    assert names == sorted(names, key=PurePosixPath)
    assert names != sorted(names)


def test_git_paths_ignored_only_at_top_level(tmp_path: Path) -> None:
    names = {f.name for f in digest_directory(build(tmp_path / "artifact", NESTED | GIT)).files}
    assert names == set(NESTED) | {"sub/.gitignore", ".gitkeep", "model.sig"}


def test_file_digests_and_sizes_match_hashlib(tmp_path: Path) -> None:
    big = os.urandom(2 * digests.CHUNK + 12345)
    root = build(tmp_path / "artifact", NESTED | {"big.bin": big})
    contents = NESTED | {"big.bin": big}
    for item in digest_directory(root, workers=3).files:
        assert item.digest == "sha256:" + hashlib.sha256(contents[item.name]).hexdigest()
        assert item.size == len(contents[item.name])
    assert sha256_file(root / "big.bin") == "sha256:" + hashlib.sha256(big).hexdigest()


def test_worker_count_does_not_change_the_result(tmp_path: Path) -> None:
    root = build(tmp_path / "artifact", NESTED)
    assert digest_directory(root, workers=1) == digest_directory(root, workers=8)


def test_subject_digest_ignores_input_order_and_checks_digests(tmp_path: Path) -> None:
    result = digest_directory(build(tmp_path / "artifact", NESTED))
    assert subject_digest(reversed(result.files)) == result.digest
    with pytest.raises(StoreError):
        subject_digest([FileDigest(name="x", digest="md5:00", size=0)])


def _forbid_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(digests, "sha256_file", fail)


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []

    def count(path: Path) -> str:
        hashed.append(path.name)
        return sha256_file(path)

    monkeypatch.setattr(digests, "sha256_file", count)
    return hashed


def test_cache_answers_for_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "artifact", NESTED)
    cache = DigestCache.default()
    assert cache.path == Path(os.environ["ADAPTERCTL_CACHE_DIR"]) / "digests.sqlite"
    first = digest_directory(root, cache=cache)
    assert cache.path.is_file()
    _forbid_hashing(monkeypatch)
    assert digest_directory(root, cache=DigestCache.default()) == first


def test_cache_rehashes_changed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "artifact", NESTED)
    cache = DigestCache.default()
    digest_directory(root, cache=cache)
    hashed = _count_hashing(monkeypatch)
    (root / "a/b").write_bytes(b"longer content")  # size changes
    info = (root / "a0").stat()
    os.utime(root / "a0", ns=(info.st_atime_ns, info.st_mtime_ns + 1))  # mtime only
    result = digest_directory(root, cache=cache)
    assert sorted(hashed) == ["a0", "b"]
    assert result == digest_directory(root)
    hashed.clear()
    assert digest_directory(root, cache=cache) == result
    assert hashed == []


def test_cache_sees_same_size_edit_with_restored_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build(tmp_path / "artifact", {"weights.bin": b"AAAA"})
    cache = DigestCache.default()
    before = digest_directory(root, cache=cache)
    info = (root / "weights.bin").stat()
    (root / "weights.bin").write_bytes(b"BBBB")
    os.utime(root / "weights.bin", ns=(info.st_atime_ns, info.st_mtime_ns))
    hashed = _count_hashing(monkeypatch)
    after = digest_directory(root, cache=cache)
    assert hashed == ["weights.bin"]
    assert after.digest != before.digest


def test_unusable_cache_is_ignored(tmp_path: Path) -> None:
    root = build(tmp_path / "artifact", NESTED)
    broken = tmp_path / "not-a-db.sqlite"
    broken.write_text("this is not a database")
    assert digest_directory(root, cache=DigestCache(broken)) == digest_directory(root)


def test_file_changed_while_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = build(tmp_path / "artifact", {"weights.bin": b"AAAA"})

    def racing(path: Path) -> str:
        digest = sha256_file(path)
        path.write_bytes(b"changed")
        return digest

    monkeypatch.setattr(digests, "sha256_file", racing)
    with pytest.raises(DigestError) as caught:
        digest_directory(root)
    assert (
        caught.value.message
        == f"{root / 'weights.bin'}: the file changed while it was being hashed"
    )


@pytest.mark.parametrize("target", ["a/b", "a"])
def test_symlinks_are_refused(tmp_path: Path, target: str) -> None:
    root = build(tmp_path / "artifact", NESTED)
    (root / "deep" / "link").symlink_to(root / target)
    with pytest.raises(DigestError) as caught:
        digest_directory(root)
    message = f"{root / 'deep' / 'link'}: symbolic links are not allowed in an artifact"
    assert caught.value.message == message


def test_symlinked_artifact_directory_is_refused(tmp_path: Path) -> None:
    build(tmp_path / "artifact", NESTED)
    (tmp_path / "alias").symlink_to(tmp_path / "artifact")
    with pytest.raises(DigestError, match="symbolic links are not allowed in an artifact"):
        digest_directory(tmp_path / "alias")


@pytest.mark.parametrize("files", [{}, {".gitignore": b"*\n", ".git/HEAD": b"ref"}])
def test_an_artifact_needs_a_file(tmp_path: Path, files: Mapping[str, bytes]) -> None:
    root = tmp_path / "artifact"
    root.mkdir()
    build(root, files)
    (root / "empty-folder").mkdir()
    with pytest.raises(DigestError) as caught:
        digest_directory(root)
    assert caught.value.message == f"{root}: an artifact must contain at least one file"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DigestError) as caught:
        digest_directory(tmp_path / "nowhere")
    assert caught.value.message == f"{tmp_path / 'nowhere'}: not a directory"


def test_special_files_are_refused(tmp_path: Path) -> None:
    root = build(tmp_path / "artifact", NESTED)
    os.mkfifo(root / "pipe")
    with pytest.raises(DigestError) as caught:
        digest_directory(root)
    assert caught.value.message == f"{root / 'pipe'}: only regular files are allowed in an artifact"
