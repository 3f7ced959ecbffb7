"""The security review a platform team would do (issue 19): one test per threat.

Each test names its threat and either proves that it is already refused or pins the fix:
real git repositories in temporary folders, real safetensors from the example kit, real
signatures with keys made here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import git
import pytest
from model_signing import signing

from adapterctl.cli.app import main
from adapterctl.registry import Registry
from adapterctl.store.digests import digest_directory
from tests.test_policy_git import PROD, _check, _edit, _record, repo
from tests.test_register import _adapter, _register, _store_listing, workspace
from tests.test_signing_attacks import MANIFEST, REVISION, World, world

__all__ = ["repo", "workspace", "world"]  # fixtures, used by name

STORE_HINT = (
    "  → a stored artifact is never overwritten: ask the store's owners to find out who "
    "changed it and to remove it (docs/store.md), then register again\n"
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# --- store write access -------------------------------------------------------------------


def test_register_refuses_a_digest_folder_whose_content_differs(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: someone with write access to the store changes (or plants ahead of time) the
    folder an artifact digest names; a later ``register`` of that artifact must not accept
    it as already stored and write a manifest pointing at other bytes."""
    adapter = _adapter(workspace)
    assert _register("1.3.0") == 0
    revision = Registry.load(workspace).revision("support-bot", "1.3.0")
    assert revision is not None
    digest = revision.artifact.digest
    stored = workspace / "examples/store/sha256" / digest.removeprefix("sha256:")
    config = stored / "adapter_config.json"
    stored.chmod(0o755)
    config.chmod(0o644)
    config.write_text(config.read_text().replace('"r": 8', '"r": 4'))
    (stored / "README.md").write_text("planted\n")
    capsys.readouterr()
    before = _store_listing(workspace)

    assert _register("1.4.0") == 1
    assert capsys.readouterr().err == (
        f"adapterctl: error: the store file://examples/store already holds {digest} with other "
        f"content than ../adapter: README.md is only in the stored copy; adapter_config.json "
        f"differs (sha256 {_sha(config)}… in the store, {_sha(adapter / 'adapter_config.json')}… "
        "here); refusing to overwrite it\n" + STORE_HINT
    )
    assert not (workspace / "adapters/support-bot/1.4.0.yaml").exists()
    assert _store_listing(workspace) == before
    assert '"r": 4' in config.read_text()  # the evidence is left as it was


def test_register_of_an_identical_stored_artifact_writes_only_the_manifest(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same bytes under the same digest are not a conflict: a second revision of the
    same artifact is registered and the stored copy is left alone."""
    _adapter(workspace)
    assert _register("1.3.0") == 0
    before = _store_listing(workspace)
    assert _register("1.4.0") == 0
    assert capsys.readouterr().err.endswith(
        "wrote adapters/support-bot/1.4.0.yaml (artifact file://examples/store)\n"
    )
    assert _store_listing(workspace) == before


# --- separation of duties -----------------------------------------------------------------


def _approve_also(login: str) -> None:
    """Add an approval of the head by ``login`` (a copy of the recording's last approval)."""
    reviews = json.loads(Path("reviews.json").read_text("utf-8"))
    approval = dict(reviews[-1], id=reviews[-1]["id"] + 1, user={"login": login})
    Path("reviews.json").write_text(json.dumps([*reviews, approval]))


def test_a_pull_request_that_changes_codeowners_with_an_environment_needs_old_and_new_owners(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: a pull request hands environments/prod/ to other owners in CODEOWNERS and
    promotes in prod in the same change. The target branch's rules alone would let the old
    owners approve a change of owners nobody new agreed to, and the new rules alone would let
    it approve itself: both sets of owners must approve."""
    _edit(repo, PROD, "weight: 90}", "weight: 50}")
    _edit(repo, PROD, "weight: 10}", "weight: 50}")
    _edit(repo, "CODEOWNERS", "/environments/prod/                 @example-org/release-managers",
          "/environments/prod/                 @example-org/ml-team")  # fmt: skip
    repo.git.commit("-am", "promote support-bot 1.1.0 to 50% (and hand prod to the ML team)")
    _record(repo, "promotion-approved")  # rita-release and rob-release approve
    head = repo.head.commit.hexsha[:7]

    assert _check(repo, "--base-ref", "main") == 1
    assert capsys.readouterr().out == (
        "CODEOWNERS  error  policy/code-owners\n"
        "  no code owner approved this change: it needs @example-org/platform "
        "(approvals that count: rita-release, rob-release)\n"
        f"  → a member of @example-org/platform must approve the head {head}\n"
        "  see CODEOWNERS:26\n"
        "\n"
        f"{PROD}  error  policy/code-owners\n"
        "  no code owner approved this change under the CODEOWNERS this pull request writes: "
        "it needs @example-org/ml-team (approvals that count: rita-release, rob-release)\n"
        f"  → a member of @example-org/ml-team must approve the head {head}\n"
        "  see CODEOWNERS:20\n"
        "\n"
        "✗ policy check: 2 errors in 2 files\n"
    )

    _approve_also("pat-platform")  # the old owner of CODEOWNERS
    _approve_also("noah-ml")  # a new owner of environments/prod/
    assert _check(repo, "--base-ref", "main") == 0
    capsys.readouterr()


# --- artifact signatures ------------------------------------------------------------------


def test_a_signature_bundle_that_covers_fewer_files_than_the_manifest_lists(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: the signer signed only part of the artifact (here: the weights without
    adapter_config.json), and the manifest lists more files than the signature covers. With
    the manifest's own digest the signature does not fit at all; with a manifest whose digest
    was made to match the signed subset, the files the signature leaves out would be served
    unsigned: refused file by file."""
    part = tmp_path / "part"
    part.mkdir()
    shutil.copyfile(
        world.artifact / "adapter_model.safetensors", part / "adapter_model.safetensors"
    )
    config = signing.Config().use_elliptic_key_signer(private_key=world.key)  # type: ignore[no-untyped-call]
    config.sign(part, world.bundle)
    part_digest = digest_directory(part).digest

    code = main(["verify", REVISION, "--trust", str(world.trust), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(f["rule"], f["message"]) for f in report["findings"]] == [
        (
            "trust/digest-mismatch",
            f"the signature covers {part_digest}, not the manifest's artifact digest "
            f"{world.digest}",
        )
    ]

    manifest = world.root / MANIFEST
    manifest.write_text(manifest.read_text().replace(world.digest, part_digest))
    shutil.copytree(
        part, world.root / "examples/store/sha256" / part_digest.removeprefix("sha256:")
    )
    code = main(["verify", REVISION, "--trust", str(world.trust), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [
        (f["rule"], f"{f['file']}:{f['line']} {f['path']}", f["message"], f["hint"])
        for f in report["findings"]
    ] == [
        (
            "trust/manifest-mismatch",
            f"{MANIFEST}:12 $.artifact.files['adapter_config.json']",
            "adapter_config.json is listed in the manifest, but the signature does not cover it",
            "the signature covers 1 of the 2 files the manifest lists: sign the artifact the "
            f"manifest describes (adapterctl sign {REVISION})",
        )
    ]
