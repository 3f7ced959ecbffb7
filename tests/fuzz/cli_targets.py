"""Fuzz target: the names and versions given on the command line: ``NAME@VERSION``
(``parse_target``), a base's ``NAME@REVISION`` (``sign --base``, ``check --base``), a base's
name and revision apart (``register-base``, ``merge``, ``promote-base``) and an adapter name
alone (``check_ref``)."""

from __future__ import annotations

from collections.abc import Iterator

from adapterctl.cli.options import check_ref, parse_base, parse_target
from adapterctl.cli.register import valid_base_ref
from tests.fuzz.harness import attempt, text


def check(data: bytes) -> None:
    given = text(data)
    attempt(lambda: parse_target(given))
    attempt(lambda: parse_base(given, f"--base {given}"))
    name, _, revision = given.partition("@")
    attempt(lambda: valid_base_ref(name, revision, {"name": "--name"}))
    attempt(lambda: check_ref(given, given))


def seeds() -> Iterator[bytes]:
    for given in ("support-bot@1.2.0", "support-bot@1.2.0-rc.1+build.5", "tiny-llama@r1",
                  "llama-3.1-8b-instruct@main", "sql-helper"):  # fmt: skip
        yield given.encode()
