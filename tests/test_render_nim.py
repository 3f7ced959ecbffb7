"""``adapterctl render --target nim`` against NIM's documented ``NIM_PEFT_SOURCE`` layout.

NIM for LLMs serves each adapter folder directly under ``NIM_PEFT_SOURCE`` under the
folder's name; a Hugging Face PEFT folder holds ``adapter_config.json`` and one of
``adapter_model.safetensors`` or ``adapter_model.bin``, and only valid, readable folders
are loaded. :func:`nim_adapters` reads a rendered folder that way. The nodes' cache is
played by the registry's store, which has the same ``sha256/<hex>/<files>`` layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import isolate_git
from tests.test_render import (
    CANARY,
    HEX,
    RELEASE,
    commit,
    edit,
    git,
    header,
    make_repo,
    render,
    tamper,
)

FILES = ("adapter_config.json", "adapter_model.safetensors")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(monkeypatch, RELEASE)
    return make_repo(tmp_path)


def nim_adapters(source: Path) -> list[str]:
    """The model names NIM would serve from ``source``: its valid adapter folders."""
    names = []
    for folder in sorted(source.iterdir()):
        config = folder / "adapter_config.json"
        weights = [folder / name for name in ("adapter_model.safetensors", "adapter_model.bin")]
        if folder.is_dir() and config.is_file() and any(w.is_file() for w in weights):
            assert json.loads(config.read_text())["peft_type"] == "LORA"
            names.append(folder.name)
    return names


def env_file(repo: Path, source: str, interval: int = 60) -> str:
    return header(repo, "nim") + (
        f"NIM_PEFT_SOURCE={source}\nNIM_PEFT_REFRESH_INTERVAL={interval}\n"
    )


def test_nim_folder_per_served_name_links_the_cached_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = repo / "examples/store"
    folder = repo.parent / "loras"
    args = ("-o", folder, "--adapter-dir", str(cache), "--peft-source", "/opt/nim/loras")
    code, out, err = render(capsys, repo, "nim", *args)
    assert (code, out) == (0, env_file(repo, "/opt/nim/loras"))
    assert (
        err
        == f"wrote {folder}: 3 revisions of prod at commit {git(repo, 'rev-parse', 'HEAD')[:12]}\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == [".adapterctl-render.json", *sorted(HEX)]
    assert nim_adapters(folder) == sorted(HEX)
    for name, digest in HEX.items():
        assert (folder / name).is_dir()
        assert not (folder / name).is_symlink()
        assert sorted(p.name for p in (folder / name).iterdir()) == list(FILES)
        for file in FILES:
            assert (folder / name / file).readlink() == cache / "sha256" / digest / file
    marker = json.loads((folder / ".adapterctl-render.json").read_text())
    assert (marker["target"], marker["mode"]) == ("nim", "symlink")
    assert marker["env"] == {
        "NIM_PEFT_SOURCE": "/opt/nim/loras",
        "NIM_PEFT_REFRESH_INTERVAL": "60",
    }
    assert marker["entries"]["support-bot@1.1.0"] == {
        "digest": f"sha256:{HEX['support-bot@1.1.0']}",
        "weight": 10,
        "link": f"{cache}/sha256/{HEX['support-bot@1.1.0']}",
    }


def test_nim_copies_verified_artifacts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = repo.parent / "loras"
    code, out, _ = render(capsys, repo, "nim", "-o", folder, "--copy", "--refresh-interval", "5")
    assert (code, out) == (0, env_file(repo, str(folder), interval=5))
    assert nim_adapters(folder) == sorted(HEX)
    for name, digest in HEX.items():
        for file in FILES:
            copy = folder / name / file
            assert not copy.is_symlink()
            assert (
                copy.read_bytes() == (repo / "examples/store/sha256" / digest / file).read_bytes()
            )


def test_a_re_render_leaves_only_the_routed_revisions(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = repo.parent / "loras"
    assert render(capsys, repo, "nim", "-o", folder, "--copy")[0] == 0
    edit(repo, CANARY, "    - {version: 1.1.0, weight: 100}\n")
    commit(repo, "support-bot 1.1.0 at 100, 1.0.0 no longer retained")
    assert render(capsys, repo, "nim", "-o", folder, "--copy")[0] == 0
    assert nim_adapters(folder) == ["sql-helper@1.0.0", "support-bot@1.1.0"]
    assert [p.name for p in repo.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("-o", "loras", "--peft-source", "loras"),
            "--peft-source loras: NIM_PEFT_SOURCE must be the folder's absolute path inside "
            "the NIM container",
        ),
        ((), "--target nim writes a folder: pass --output DIR"),
        (("-o", "loras", "--base-name", "llama"), "--base-name does not apply to --target nim"),
        (("-o", "loras", "--format", "json"), "--format does not apply to --target nim"),
        (
            ("-o", "loras", "--copy", "--adapter-dir", "/c"),
            "--adapter-dir does not apply with --copy (the copies live in --output)",
        ),
    ],
)
def test_nim_bad_input_writes_nothing(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(repo.parent)
    assert render(capsys, repo, "nim", *args) == (2, "", f"adapterctl: error: {message}\n")
    assert sorted(p.name for p in repo.parent.iterdir()) == ["r"]


def test_a_tampered_artifact_leaves_the_previous_folder(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = repo.parent / "loras"
    assert render(capsys, repo, "nim", "-o", folder, "--copy")[0] == 0
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    tamper(repo)
    code, out, err = render(capsys, repo, "nim", "-o", folder, "--copy")
    assert (code, out) == (1, "")
    assert err.startswith(
        f"adapterctl: error: support-bot@1.1.0: the artifact sha256:{HEX['support-bot@1.1.0']} "
        "in the store file://examples/store does not match its manifest: "
        "adapter_config.json has digest sha256:"
    )
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert [p.name for p in repo.parent.iterdir() if p.name.startswith(".")] == []
