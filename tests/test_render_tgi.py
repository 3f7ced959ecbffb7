"""``adapterctl render --target tgi`` against TGI's documented ``LORA_ADAPTERS`` format.

TGI (launcher/src/main.rs, server/text_generation_server/utils/adapter.py, docs
conceptual/lora.md) takes comma-separated entries ``id``, ``id@revision`` (a Hub adapter)
or ``id=path`` (a local folder); :func:`parse_lora_adapters` reads entries by that grammar,
so every rendered entry is checked to come back as (id, path, no revision).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from adapterctl.model.common import NAME_PATTERN, SEMVER_PATTERN
from adapterctl.serving.render.tgi import SEPARATOR
from tests.conftest import isolate_git
from tests.test_render import CANARY, HEX, RELEASE, commit, edit, header, make_repo, render

BASE = "/models/tiny-llama-r1"
CACHE = "/var/lib/adapterctl/cache"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(monkeypatch, RELEASE)
    return make_repo(tmp_path)


def parse_lora_adapters(value: str) -> list[tuple[str, str | None, str | None]]:
    """TGI's grammar: comma-separated entries, stripped, each ``id``, then ``=path``, then
    ``@revision``, with at most one ``=`` and one ``@``; an id holds neither."""
    parsed = []
    for entry in (part.strip() for part in value.split(",")):
        assert entry.count("=") <= 1, entry
        assert entry.count("@") <= 1, entry
        head, _, revision = entry.partition("@")
        adapter, _, path = head.partition("=")
        assert adapter, entry
        parsed.append((adapter, path or None, revision or None))
    return parsed


def ids_note(names: list[str]) -> str:
    lines = [f"#   {name.replace('@', ':')} = {name}\n" for name in names]
    return (
        "#\n"
        "# TGI adapter id = served name (a request names it in parameters.adapter_id,\n"
        "# or as model on /v1/chat/completions and /v1/completions):\n" + "".join(lines)
    )


def test_tgi_launcher_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = render(capsys, repo, "tgi", "--base-uri", BASE)
    entries = ",".join(f"{n.replace('@', ':')}={CACHE}/sha256/{h}" for n, h in HEX.items())
    assert (code, err) == (0, "")
    assert out == header(repo, "tgi") + ids_note(list(HEX)) + (
        f"--model-id {BASE} --lora-adapters {entries}\n"
    )


def test_tgi_entries_parse_as_local_adapters(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = render(capsys, repo, "tgi", "--base-uri", BASE, "--format", "json")[1]
    args = json.loads(out)
    assert args[:3] == ["--model-id", BASE, "--lora-adapters"]
    assert parse_lora_adapters(args[3]) == [
        (name.replace("@", ":"), f"{CACHE}/sha256/{digest}", None) for name, digest in HEX.items()
    ]
    # the served name itself would come back as a Hub adapter 'support-bot' at a revision
    assert parse_lora_adapters(f"support-bot@1.1.0={CACHE}") == [
        ("support-bot", None, f"1.1.0={CACHE}")
    ]


def test_tgi_json_list_for_a_container(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, CANARY, "    - {version: 1.0.0, weight: 0}\n    - {version: 1.1.0, weight: 100}\n")
    commit(repo, "Finish the support-bot canary")
    args = ("--format", "json", "--adapter-dir", "/srv/loras/", "--base-uri", "meta/llama")
    code, out, err = render(capsys, repo, "tgi", *args)
    entries = [f"{n.replace('@', ':')}=/srv/loras/sha256/{h}" for n, h in HEX.items()]
    assert (code, err) == (0, "")
    assert json.loads(out) == ["--model-id", "meta/llama", "--lora-adapters", ",".join(entries)]


def test_the_separator_is_in_no_name_and_no_version() -> None:
    """``alias:version`` splits back at its one ':': TGI ids map one-to-one to served names."""
    assert re.fullmatch(NAME_PATTERN, "support:bot") is None
    assert re.fullmatch(SEMVER_PATTERN, "1.1.0-rc:1") is None
    assert re.fullmatch(SEMVER_PATTERN, "1.1.0+build:1") is None
    assert SEPARATOR == ":"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "--target tgi needs the base model for --model-id: pass --base-uri with the base's "
            "folder on the nodes (or its Hugging Face Hub id)",
        ),
        (
            ("--base-uri", BASE, "--adapter-dir", "/srv/a=b,c"),
            "--adapter-dir /srv/a=b,c: TGI's LORA_ADAPTERS cannot carry a path with '=' or ',' "
            "(it splits entries on ',', an id from its path on '=' and a revision on '@')",
        ),
        (
            ("--base-uri", BASE, "--base-name", "llama"),
            "--base-name does not apply to --target tgi",
        ),
        (("--base-uri", BASE, "--copy"), "--copy does not apply to --target tgi"),
    ],
)
def test_tgi_bad_input_writes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    target = repo.parent / "tgi-args.txt"
    assert render(capsys, repo, "tgi", "-o", target, *args) == (
        2,
        "",
        f"adapterctl: error: {message}\n",
    )
    assert not target.exists()
    assert [p.name for p in repo.parent.iterdir() if p.name.startswith(".")] == []
