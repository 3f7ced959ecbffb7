"""Names, versions and revisions from the command line (``NAME@VERSION``, a base's
``NAME@REVISION``, ``--name``): bytes that are not UTF-8, and names that could leave their
folder, are usage errors that say so — found by the ``cli_targets`` fuzz target, which
crashed the first (pydantic cannot quote Python's surrogate escapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapterctl.cli.app import main
from tests.conftest import REPO

KEY = str(REPO / "examples" / "keys" / "train-pipeline.pem")
BASE_RULE = (
    "use lower-case letters, digits, '-' and '.' (a DNS-1123 subdomain: at most 253 "
    "characters, each dot-separated part starting and ending with a letter or digit), "
    "e.g. llama-3.1-8b-instruct"
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "sup\udc85@1.2.0"], "sup\ufffd@1.2.0: not UTF-8 text (byte 0x85)"),
        (
            ["promote", "support-bot@1.2.\udc85", "--env", "staging"],
            "support-bot@1.2.\ufffd: not UTF-8 text (byte 0x85)",
        ),
        (["sign", "x@r\udcff", "--base", "--key", KEY], "x@r\ufffd: not UTF-8 text (byte 0xff)"),
        (
            ["register-base", str(REPO / "examples"), "--name", "x\udc85", "--revision", "r1"],
            "--name x\ufffd: not UTF-8 text (byte 0x85)",
        ),
        (
            ["check", "--base", "../x@r1"],
            f"--base ../x@r1: '../x' is not a valid base name: {BASE_RULE}",
        ),
        (
            ["sign", "../x@r1", "--base", "--key", KEY],
            f"../x@r1: '../x' is not a valid base name: {BASE_RULE}",
        ),
        (
            ["check", "--base", "tiny-llama"],
            "--base tiny-llama: expected NAME@REVISION of a base, e.g. support-bot-merged@r1",
        ),
        (
            [
                "verify",
                "tiny-llama@r1/..",
                "--base",
                "--trust",
                str(REPO / "examples" / "trust.yaml"),
            ],
            "tiny-llama@r1/..: 'r1/..' is not a valid revision: use letters, digits, '.', '_' and '-'",
        ),
    ],
)
def test_a_bad_name_from_the_command_line_is_a_usage_error(
    registry: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--root", str(registry)]) == 2
    assert capsys.readouterr().err == f"adapterctl: error: {message}\n"
