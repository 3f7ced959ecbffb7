"""The security review a platform team would do (issue 19): one test per threat.

Each test names its threat and either proves that it is already refused or pins the fix:
real git repositories in temporary folders, real safetensors from the example kit, real
signatures with keys made here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
from model_signing import signing

from adapterctl.cli.app import main
from adapterctl.registry import Registry
from adapterctl.store.digests import digest_directory
from tests.conftest import isolate_git
from tests.synccheckout import Checkout, cli, head, sync
from tests.syncnode import Faults, RuntimeNode, fault_proxy
from tests.test_policy_git import PROD, _check, _edit, _record, repo
from tests.test_register import _adapter, _register, _store_listing, workspace
from tests.test_signing_attacks import MANIFEST, REVISION, World, world
from tests.test_sync import node
from tests.test_verify_commit import _signing, make_ssh_keys, needs_ssh, write_signers

__all__ = ["node", "repo", "workspace", "world"]  # fixtures, used by name

STORE_HINT = (
    "  → a stored artifact is never overwritten: ask the store's owners to find out who "
    "changed it and to remove it (docs/store.md), then register again\n"
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@pytest.fixture
def synced(
    tmp_path: Path, node: RuntimeNode, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Checkout[RuntimeNode]]:
    """A registry in git, its store outside it, and node-a (staging) on a reference node."""
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))
    with fault_proxy(node.url) as (proxy, faults):
        yield Checkout(tmp_path, node, proxy, faults)


def _stored(setup: Checkout[RuntimeNode], label: str) -> Path:
    return setup.store / "sha256" / Path(setup.path(label)).name


CONVERGED = "  node-a  converged  load support-bot@1.1.0, load sql-helper@1.1.0"


# --- an artifact outside the store --------------------------------------------------------


def test_a_file_uri_in_a_manifest_does_not_lead_outside_the_store(
    synced: Checkout[RuntimeNode], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: a manifest whose artifact.uri points outside the store (file:// to a folder
    someone controls) gets those files checked or served. The uri is a hint for people:
    the gates and the sync read the configured store by digest only, so with the store's
    copy gone the artifact is missing, whatever the hint points at."""
    elsewhere = tmp_path / "elsewhere" / "sha256"
    stored = _stored(synced, "support-bot@1.1.0")
    shutil.copytree(stored, elsewhere / stored.name)  # the same bytes, outside the store
    manifest = synced.root / "adapters/support-bot/1.1.0.yaml"
    text = manifest.read_text().replace("  format: peft-lora\n", "  format: peft-lora\n"
                                        f"  uri: {elsewhere.as_uri()}/{stored.name}\n")  # fmt: skip
    manifest.write_text(text)
    synced.git("commit", "-q", "-am", "Point the artifact elsewhere")
    shutil.rmtree(stored)
    store = synced.store.as_uri()

    code, out, _ = cli(capsys, "check", "support-bot@1.1.0", "--root", synced.root,
                       "--store", store, "--format", "json")  # fmt: skip
    assert code == 1
    assert [(f["rule"], f["message"]) for f in json.loads(out)["findings"]] == [
        ("integrity/missing-artifact", f"artifact sha256:{stored.name} is not in the store {store}")
    ]
    code, out = sync(capsys, synced)
    assert code == 1
    assert out.splitlines()[1] == (
        f"  node-a  FAILED     store: support-bot@1.1.0: artifact sha256:{stored.name} is not "
        f"in the store {store}"
    )
    assert synced.node.engine.loras() == {}


def test_dot_dot_in_file_names_inside_the_artifact_is_refused(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: a manifest lists an artifact file as ../../<something>, so that checking,
    fetching or loading it reads or writes outside the artifact's folder. Names are one
    path component: the manifest does not validate, and nothing reads it."""
    manifest = workspace / "adapters/support-bot/1.1.0.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    adapter_config.json:", "    ../../../../etc/adapter_config.json:"))  # fmt: skip
    code, out, _ = cli(capsys, "validate", manifest, "--format", "json")
    assert code == 1
    findings = [
        (f["rule"], f["line"], f["path"], f["message"]) for f in json.loads(out)["findings"]
    ]
    assert findings[0] == (
        "schema/invalid-value",
        12,
        "$.artifact.files['../../../../etc/adapter_config.json']",
        "'../../../../etc/adapter_config.json' is not an artifact file name: one path "
        "component, no '/' or '..' (it would escape the store)",
    )


@pytest.mark.parametrize("where", ["file", "folder"])
def test_symlinks_inside_an_adapter_directory_are_refused(
    synced: Checkout[RuntimeNode], tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """Threat: a symbolic link inside an adapter directory (or in place of it) is hashed
    where it points now and read by the server wherever it points later. The node's cache
    is the copy that gets loaded, so a link there is refused and quarantined like any other
    tampering, even when it points at the right bytes. (register and the store refuse links
    too: tests/test_register.py, tests/test_signing_attacks.py.)"""
    assert sync(capsys, synced) == (0, f"sync staging at {head(synced)} (1 node)\n{CONVERGED}\n"
                                       "✓ 1 node converged\n")  # fmt: skip
    synced.node.reset()
    cached = Path(synced.path("sql-helper@1.1.0"))
    outside = tmp_path / "outside"
    shutil.copytree(cached, outside)  # the right bytes, outside the cache
    if where == "file":
        (cached / "adapter_model.safetensors").unlink()
        (cached / "adapter_model.safetensors").symlink_to(outside / "adapter_model.safetensors")
        shown = "adapter_model.safetensors"
    else:
        shutil.rmtree(cached)
        cached.symlink_to(outside)
        shown = f"the folder {cached}"

    code, out = sync(capsys, synced)
    assert code == 1
    (aside,) = (synced.cache / "quarantine").iterdir()
    assert out.splitlines()[1] == (
        f"  node-a  FAILED     tampered-artifact: sql-helper@1.1.0: {shown} in the node's cache "
        f"is a symbolic link; not loaded; the copy was moved to {aside} and the next sync "
        "fetches a verified one (done: load support-bot@1.1.0)"
    )
    assert set(synced.node.engine.loras()) == {"support-bot@1.1.0"}
    assert sync(capsys, synced)[0] == 0  # a verified copy is fetched again
    assert not Path(synced.path("sql-helper@1.1.0")).is_symlink()


# --- a store object replaced between verify and load --------------------------------------


def test_a_store_object_replaced_between_verify_and_load(
    synced: Checkout[RuntimeNode], capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: the store's copy of an artifact is swapped for other weights after the sync
    verified it and before the server reads it. The sync verifies the copy in the node's
    cache and has the server load that copy, never the store's: the swap changes nothing
    the node serves (the next fetch from the store would be refused)."""
    weights = _stored(synced, "support-bot@1.1.0") / "adapter_model.safetensors"
    other = (_stored(synced, "support-bot@1.2.0") / "adapter_model.safetensors").read_bytes()
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()

    def swap() -> None:
        weights.chmod(0o644)
        weights.write_bytes(other)

    synced.faults.at_load = swap  # when the first load reaches the node: support-bot's
    assert sync(capsys, synced) == (0, f"sync staging at {head(synced)} (1 node)\n{CONVERGED}\n"
                                       "✓ 1 node converged\n")  # fmt: skip
    assert weights.read_bytes() == other  # the store was swapped under the sync
    loaded = Path(synced.node.engine.loras()["support-bot@1.1.0"])
    assert loaded == Path(synced.path("support-bot@1.1.0"))  # the node's cache
    assert hashlib.sha256((loaded / "adapter_model.safetensors").read_bytes()).hexdigest() == (
        expected
    )


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


# --- signed environment commits -----------------------------------------------------------


class _Unreachable:
    """A node nobody listens for: a sync that gets past its commit check finds it down."""

    def reset(self) -> None:
        return None


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_ssh
def test_an_environment_commit_signed_by_a_key_revoked_after_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Threat: a release manager's key leaks after it signed the prod commit at the tip;
    the key is revoked on the nodes. Git checks a key at the commit's own date, which the
    signer sets, so only a revocation that ignores dates stops a thief from signing (or
    replaying) commits: a node must refuse the commit once the key is in its revocation
    file, even though the signature was good when it was made."""
    isolate_git(monkeypatch, ("Rita Release", "rita@example.com"))
    (tmp_path / "keys").mkdir()
    keys = make_ssh_keys(tmp_path / "keys")
    alice = keys["alice"]
    setup = Checkout(tmp_path, _Unreachable(), f"http://127.0.0.1:{_closed_port()}", Faults())
    subject = "Promote support-bot 1.1.0 in prod"
    setup.git(*_signing(alice), "commit", "-q", "--allow-empty", "-S", "-m", subject)
    signers = write_signers(tmp_path / "allowed_signers", keys)
    text = setup.config.read_text().replace("environment: staging", "environment: prod")
    trusted = text.replace("trust: {", f"trust: {{allowed_signers: {signers}, ")
    setup.config.write_text(trusted)
    sync = ("sync", "--env", "prod", "--node-config", setup.config, "--root", setup.root)

    code, out, _ = cli(capsys, *sync)  # signed by an allowed key: on to the node
    assert code == 1
    assert out.splitlines()[1].startswith("  node-a  FAILED     node-down: ")

    revoked = tmp_path / "revoked-keys"
    revoked.write_text(f"# alice's laptop, stolen after she signed\n{alice.fingerprint}\n")
    setup.config.write_text(trusted.replace("trust: {", f"trust: {{revocations: {revoked}, "))
    code, out, _ = cli(capsys, *sync)
    assert code == 1
    assert out.splitlines()[1] == (
        f"  node-a  FAILED     unsigned-commit: commit {head(setup)} is not signed as prod "
        f'requires: "{subject}" is signed by SSH key {alice.fingerprint}, which is listed in '
        f"the revocation file {revoked}; nothing loaded or unloaded"
    )
