"""``adapterctl gc``: real git repositories, the real example store, exact output."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from adapterctl.gitops import archive
from adapterctl.store.uri import open_store
from tests.conftest import BUCKET, REPO, copy_registry, isolate_git
from tests.test_history import Repo, cli

PROD = "environments/prod/environment.yaml"
SB_100 = "sha256:ff7847230591027a29bf6529d8c42dff0f458e4e8d2277f97f70de8d67424f53"
SB_110 = "sha256:9ac675757a5cd2361d4aaaede4b1aea7b67a2da1c23f75dc3271f7f749c43792"
SB_120 = "sha256:034178c991ea4ba2c1b75ab51341857259903756fdcbee9a59f9bdc1f2b32aad"
SQL_100 = "sha256:693ed37db23bb2bbdc4fbde3d1f1de8d6ba8dd626876226cea3356376f63ac56"
SQL_110 = "sha256:6026282194357c383bebcca0f19aa52777915c131a791af3231b7700beceb85b"
UNKNOWN = "sha256:" + "ab" * 32
HEADER_1 = (
    "store file://examples/store: keeping what environments route now and in their last state\n"
)
HEADER_2 = (
    "store file://examples/store: keeping what environments route now and in their last 2 states\n"
)
KEEP_R2 = "  sha256:486296119a87  base tiny-llama@r2  base artifact\n"
KEEP_R1 = "  sha256:e118e5aef173  base tiny-llama@r1  base artifact\n"
KEEP_NEWEST = "  sha256:034178c991ea  support-bot@1.2.0  newest of its line\n"
KEEP_TOKENIZERS = (
    "  sha256:bebcdb68c7f1  base tiny-llama-wide@r1, base tiny-llama@r1  base artifact\n"
)
KEEP_SQL_110 = (
    "  sha256:602628219435  sql-helper@1.1.0  routed in prod now; routed in staging now; "
    "newest of its line\n"
)
KEEP_R2_TOKENIZER = "  sha256:fff5639f4319  base tiny-llama@r2  base artifact\n"
DELETE_BOTH = (
    "delete: 2 artifacts, 60.2 KiB\n"
    "  sha256:693ed37db23b  sql-helper@1.0.0  30.1 KiB\n"
    "  sha256:ff7847230591  support-bot@1.0.0  30.1 KiB\n"
)
DRY_RUN = "dry run: nothing deleted; re-run with --apply --archive DIR to delete\n"


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch)


def make_repo(tmp_path: Path) -> Repo:
    """The example registry and store, committed once: prod routes support-bot 1.0.0 (90)
    and 1.1.0 (10) and sql-helper 1.0.0; staging routes both lines' 1.1.0."""
    repo = Repo(copy_registry(tmp_path / "r", with_store=True))
    repo.git("init", "-q", "-b", "main")
    repo.git("add", "-A")
    repo.commit("Initial registry")
    return repo


def promote_all(repo: Repo) -> str:
    """prod moves to support-bot 1.1.0 and sql-helper 1.1.0 only."""
    repo.edit("    - {version: 1.0.0, weight: 90}\n", "")
    repo.edit("weight: 10}   # canary", "weight: 100}")
    repo.edit("{version: 1.0.0, weight: 100}", "{version: 1.1.0, weight: 100}")
    return repo.commit("Promote support-bot 1.1.0 and sql-helper 1.1.0 to prod")


@pytest.fixture
def promoted(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path)
    promote_all(repo)
    return repo


def stored(repo: Repo) -> list[str]:
    return sorted("sha256:" + path.name for path in (repo.path / "examples/store/sha256").iterdir())


def keep_sb_110(extra: str = "") -> str:
    return (
        "  sha256:9ac675757a5c  support-bot@1.1.0  routed in prod now; routed in staging now; "
        f"{extra}among the 2 newest of its line\n"
    )


def add_unknown(repo: Repo) -> None:
    folder = repo.path / "examples/store/sha256" / UNKNOWN.removeprefix("sha256:")
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"x" * 2048)


def test_dry_run_lists_unreferenced_revisions_and_deletes_nothing(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(promoted)
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path)
    assert (code, err) == (0, "")
    assert out == (
        HEADER_1 + DELETE_BOTH + "keep: 7 artifacts, 1.9 MiB\n"
        + KEEP_NEWEST + KEEP_R2 + KEEP_SQL_110 + keep_sb_110() + KEEP_TOKENIZERS + KEEP_R1
        + KEEP_R2_TOKENIZER + DRY_RUN
    )  # fmt: skip
    assert stored(promoted) == before


def test_two_states_keep_what_rollback_needs(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    """A commit that changes prod's file but not its routes does not use up a state."""
    promoted.edit("description: Production;", "description: Production (EU);")
    promoted.commit("Describe prod")
    code, out, err = cli(capsys, "gc", "--keep-states", "2", "--root", promoted.path)
    assert (code, err) == (0, "")
    assert out == (
        HEADER_2 + "nothing to delete\n" + "keep: 9 artifacts, 2.0 MiB\n"
        + KEEP_NEWEST + KEEP_R2 + KEEP_SQL_110
        + "  sha256:693ed37db23b  sql-helper@1.0.0  in prod's last 2 states\n"
        + keep_sb_110() + KEEP_TOKENIZERS + KEEP_R1
        + "  sha256:ff7847230591  support-bot@1.0.0  in prod's last 2 states\n"
        + KEEP_R2_TOKENIZER
    )  # fmt: skip


def test_uncommitted_edits_count_as_routed_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The work tree drops sql-helper 1.0.0 but HEAD (state 1) still routes it."""
    repo = make_repo(tmp_path)
    repo.edit("{version: 1.0.0, weight: 100}", "{version: 1.1.0, weight: 100}")
    code, out, _ = cli(capsys, "gc", "--keep-states", "1", "--root", repo.path)
    assert code == 0
    assert "  sha256:693ed37db23b  sql-helper@1.0.0  in prod's last state\n" in out
    assert "  sha256:ff7847230591  support-bot@1.0.0  routed in prod now\n" in out
    assert "nothing to delete\n" in out


def test_weight_zero_routes_are_retained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path)
    repo.edit("{version: 1.0.0, weight: 90}", "{version: 1.0.0, weight: 0}")
    repo.edit("weight: 10}   # canary", "weight: 100}")
    repo.edit("{version: 1.0.0, weight: 100}", "{version: 1.1.0, weight: 100}")
    repo.commit("support-bot 1.1.0 takes all traffic; 1.0.0 retained for rollback")
    code, out, _ = cli(capsys, "gc", "--keep-states", "1", "--root", repo.path)
    assert code == 0
    assert out.startswith(
        HEADER_1 + "delete: 1 artifact, 30.1 KiB\n"
        "  sha256:693ed37db23b  sql-helper@1.0.0  30.1 KiB\n"
        "keep: 8 artifacts, 1.9 MiB\n"
    )
    assert "  sha256:ff7847230591  support-bot@1.0.0  retained in prod now (weight 0)\n" in out


def test_newest_of_each_line_is_kept_even_if_never_routed(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    line = promoted.path / "adapters/support-bot/adapter.yaml"
    line.write_text(line.read_text().replace("keep_latest: 2", "keep_latest: 3"))
    code, out, _ = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path)
    assert code == 0
    assert out.startswith(
        HEADER_1 + "delete: 1 artifact, 30.1 KiB\n"
        "  sha256:693ed37db23b  sql-helper@1.0.0  30.1 KiB\n"
    )
    assert "  sha256:034178c991ea  support-bot@1.2.0  newest of its line\n" in out
    assert "  sha256:ff7847230591  support-bot@1.0.0  among the 3 newest of its line\n" in out


def test_unparseable_state_is_skipped_counted_and_reported(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    promoted.edit("routes:\n", "routes: [\n")
    broken = promoted.commit("Reshape routes")
    promoted.edit("routes: [\n", "routes:\n")
    promoted.commit("Fix routes")
    code, out, _ = cli(capsys, "gc", "--keep-states", "2", "--root", promoted.path)
    assert code == 0
    assert DELETE_BOTH in out
    assert out.endswith(
        f"warning: {PROD} at {broken[:12]} (state 2 of 2) is unparseable and was skipped: "
        "did not find expected node content (while parsing a flow node at line 8)\n" + DRY_RUN
    )
    code, out, _ = cli(capsys, "gc", "--keep-states", "4", "--root", promoted.path)
    assert "nothing to delete\n" in out


def test_apply_archives_then_deletes(
    promoted: Repo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_unknown(promoted)
    backups = tmp_path / "backups"
    backups.mkdir()
    args = ("gc", "--keep-states", "1", "--root", promoted.path, "--apply", "--archive", backups)
    code, out, err = cli(capsys, *args)
    assert (code, err) == (0, "")
    [written] = list(backups.iterdir())
    assert re.fullmatch(r"adapterctl-gc-\d{8}T\d{6}Z\.tar\.gz", written.name)
    assert out.endswith(
        "unknown (no manifest names them; never deleted): 1 artifact, 2.0 KiB\n"
        "  sha256:abababababab  -  2.0 KiB\n"
        f"archived 2 revisions in {written}\n"
        "deleted 2 artifacts from file://examples/store (60.2 KiB freed)\n"
    )
    assert SB_100 not in stored(promoted)
    assert SQL_100 not in stored(promoted)
    assert {SB_110, SB_120, SQL_110, UNKNOWN} <= set(stored(promoted))
    _check_archive(promoted, written)
    code, out, _ = cli(capsys, *args)
    assert "nothing to delete\n" in out
    assert out.endswith("nothing deleted\n")
    assert len(list(backups.iterdir())) == 1


def _check_archive(repo: Repo, path: Path) -> None:
    with tarfile.open(path, "r:gz") as tar:
        names = tar.getnames()
        members = {name: tar.extractfile(name).read() for name in names}  # type: ignore[union-attr]
    assert names == [
        "adapters/sql-helper/1.0.0.sigstore.json",
        "adapters/sql-helper/1.0.0.yaml",
        "adapters/support-bot/1.0.0.sigstore.json",
        "adapters/support-bot/1.0.0.yaml",
        "digests/sql-helper@1.0.0.json",
        "digests/support-bot@1.0.0.json",
        "gc-plan.json",
    ]
    for name in names[:4]:
        assert members[name] == (repo.path / name).read_bytes()
    assert json.loads(members["digests/sql-helper@1.0.0.json"]) == {
        "format": "adapterctl/gc-digests/v1",
        "revision": "sql-helper@1.0.0",
        "digest": SQL_100,
        "files": {
            "adapter_config.json": {
                "digest": "sha256:b8c06b4dd6708250b2c5f41270a56041a00239fe7c007e15b02fdc87798d2a12",
                "size": 1087,
            },
            "adapter_model.safetensors": {
                "digest": "sha256:1ee0e98e9e70c1baa181845e257b8be8089d6723e21a247cfe08015036f96873",
                "size": 29712,
            },
        },
        "stored": {"adapter_config.json": 1087, "adapter_model.safetensors": 29712},
    }
    plan = json.loads(members["gc-plan.json"])
    assert (plan["applied"], plan["archive"]) == (True, str(path))
    assert [item["revisions"] for item in plan["delete"]] == [
        ["sql-helper@1.0.0"],
        ["support-bot@1.0.0"],
    ]
    assert [item["digest"] for item in plan["unknown"]] == [UNKNOWN]


def test_apply_needs_an_archive(promoted: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    before = stored(promoted)
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path, "--apply")
    assert (code, out) == (2, "")
    assert err == (
        "adapterctl: error: --apply needs --archive DIR: gc archives what it deletes first\n"
        "  → e.g. adapterctl gc --keep-states 5 --apply --archive /backups/adapterctl\n"
    )
    missing = promoted.path / "no-such-dir"
    args = ("gc", "--keep-states", "1", "--root", promoted.path, "--apply", "--archive", missing)
    code, out, err = cli(capsys, *args)
    assert (code, out) == (2, "")
    assert err == f"adapterctl: error: --archive {missing}: not a directory (create it first)\n"
    assert stored(promoted) == before


def test_archive_that_cannot_be_written_deletes_nothing(
    promoted: Repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The disk fills up in the middle of the tar: no partial file, nothing deleted."""
    real_add = archive._add
    calls = []

    def failing_add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
        calls.append(name)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        real_add(tar, name, data, mtime)

    monkeypatch.setattr(archive, "_add", failing_add)
    backups = tmp_path / "backups"
    backups.mkdir()
    before = stored(promoted)
    args = ("gc", "--keep-states", "1", "--root", promoted.path, "--apply", "--archive", backups)
    code, out, err = cli(capsys, *args)
    assert (code, out) == (1, "")
    assert err == (
        f"adapterctl: error: cannot write the archive in {backups}: No space left on device; "
        "nothing was deleted\n"
    )
    assert list(backups.iterdir()) == []
    assert stored(promoted) == before


def test_unknown_artifacts_are_never_deleted(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    """An artifact whose manifest was removed from the registry is unknown, not garbage."""
    add_unknown(promoted)
    (promoted.path / "adapters/sql-helper/1.0.0.yaml").unlink()
    code, out, _ = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path)
    assert code == 0
    assert out.startswith(
        HEADER_1 + "delete: 1 artifact, 30.1 KiB\n"
        "  sha256:ff7847230591  support-bot@1.0.0  30.1 KiB\n"
    )
    assert out.endswith(
        "unknown (no manifest names them; never deleted): 2 artifacts, 32.1 KiB\n"
        "  sha256:693ed37db23b  -  30.1 KiB\n"
        "  sha256:abababababab  -  2.0 KiB\n" + DRY_RUN
    )


def test_json_document(promoted: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    add_unknown(promoted)
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path, "-f", "json")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert list(document) == [
        "format", "store", "keep_states", "kept", "delete", "unknown", "warnings", "applied",
        "archive",
    ]  # fmt: skip
    assert document["format"] == "adapterctl/gc/v1"
    assert (document["store"], document["keep_states"]) == ("file://examples/store", 1)
    assert (document["applied"], document["archive"], document["warnings"]) == (False, None, [])
    assert document["delete"] == [
        _item(promoted, SQL_100, ["sql-helper@1.0.0"], [], []),
        _item(promoted, SB_100, ["support-bot@1.0.0"], [], []),
    ]
    assert document["unknown"] == [_item(promoted, UNKNOWN, [], [], [])]
    kept = {item["digest"]: item for item in document["kept"]}
    assert kept[SB_110] == _item(
        promoted,
        SB_110,
        ["support-bot@1.1.0"],
        [],
        ["routed in prod now", "routed in staging now", "among the 2 newest of its line"],
    )
    assert kept[SB_120]["reasons"] == ["newest of its line"]
    tokenizer = "sha256:bebcdb68c7f1269cc9b394b206c5d3b641db3707c18e0303e6a574aefb4bb1f9"
    assert kept[tokenizer]["bases"] == ["tiny-llama-wide@r1", "tiny-llama@r1"]
    assert kept[tokenizer]["reasons"] == ["base artifact"]
    assert len(kept) == 7


def _item(
    repo: Repo, digest: str, revisions: list[str], bases: list[str], reasons: list[str]
) -> dict[str, object]:
    folder = repo.path / "examples/store/sha256" / digest.removeprefix("sha256:")
    files = {path.name: path.stat().st_size for path in sorted(folder.iterdir())}
    return {
        "digest": digest,
        "revisions": revisions,
        "bases": bases,
        "reasons": reasons,
        "size": sum(files.values()),
        "files": files,
    }


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = copy_registry(tmp_path / "plain", with_store=True)
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", plain)
    assert (code, out) == (2, "")
    assert err == f"adapterctl: error: gc needs a git repository, and {plain} is not in one\n"
    code, out, err = cli(capsys, "gc", "--keep-states", "0", "--root", plain)
    assert (code, out) == (2, "")
    assert "Invalid value for '--keep-states'" in err
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", plain, "--store", "ftp://x")
    assert (code, out) == (1, "")
    assert err == "adapterctl: error: unsupported store URI 'ftp://x': use file:// or s3://\n"


def test_invalid_environment_in_the_work_tree_is_refused(
    promoted: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    promoted.edit("routes:\n", "routes: [\n")
    code, out, err = cli(capsys, "gc", "--keep-states", "1", "--root", promoted.path)
    assert (code, out) == (1, "")
    assert err == (
        f"adapterctl: error: {PROD} is invalid: gc cannot tell which revisions it routes\n"
        f"  → fix it first (adapterctl validate {PROD})\n"
    )


def test_apply_through_an_s3_store(
    promoted: Repo, tmp_path: Path, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{BUCKET}/gc-{tmp_path.name}"
    store = open_store(uri, endpoint_url=moto_endpoint)
    for folder in sorted((REPO / "examples/store/sha256").iterdir()):
        store.put("sha256:" + folder.name, folder)
    shutil.rmtree(promoted.path / "examples/store")
    backups = tmp_path / "backups"
    backups.mkdir()
    args: list[str | Path] = ["gc", "--keep-states", "1", "--root", promoted.path]
    args += ["--store", uri, "--endpoint-url", moto_endpoint, "--apply", "--archive", backups]
    code, out, err = cli(capsys, *args)
    assert (code, err) == (0, "")
    [written] = list(backups.iterdir())
    assert out.startswith(
        f"store {uri}: keeping what environments route now and in their last state\n" + DELETE_BOTH
    )
    assert out.endswith(
        f"archived 2 revisions in {written}\ndeleted 2 artifacts from {uri} (60.2 KiB freed)\n"
    )
    remaining = set(store.digests())
    assert len(remaining) == 7
    assert {SB_100, SQL_100}.isdisjoint(remaining)
