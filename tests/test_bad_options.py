"""Every typed option of every command, given a value of the wrong kind: exit 2 with a
message naming the option, never a traceback or an internal error (issue 19's walk).

The walk reads the commands registered on the typer app and their annotated signatures
(``typer.Option`` metadata), so a new command or option is covered without a change here.
Only the option under test is given: the value is converted and checked as the command
line is parsed, before missing arguments are looked for. Free-text options (names,
revisions, paths that need not exist yet, URLs) are checked where they enter by each
command and covered by that command's own tests.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.models import OptionInfo

from adapterctl.cli.app import app, main


def _commands(
    group: typer.Typer, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Callable[..., Any]]]:
    for info in group.registered_commands:
        assert info.callback is not None
        name = info.name or info.callback.__name__.replace("_", "-")
        yield (*prefix, name), info.callback
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        assert sub.name is not None
        yield from _commands(sub.typer_instance, (*prefix, sub.name))


def _long(info: OptionInfo) -> str:
    """The option's long name (``--format``, not ``-f``; in the Annotated form typer reads
    a first declaration given in the default's place as a name)."""
    first = [info.default] if isinstance(info.default, str) and info.default[:1] == "-" else []
    decls = [*first, *(info.param_decls or ())]
    return max(decls, key=len) if decls else ""


def _options(function: Callable[..., Any]) -> Iterator[tuple[OptionInfo, Any]]:
    for hint in typing.get_type_hints(function, include_extras=True).values():
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        kind, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, OptionInfo) and _long(extra).startswith("-"):
                yield extra, _bare(kind)


def _bare(kind: Any) -> Any:
    """``int | None`` → int; ``list[Path] | None`` → Path."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, type(int | None)) and len(args) == 1:
        return _bare(args[0])
    if typing.get_origin(kind) is list:
        return _bare(args[0])
    return kind


def _bad_values(info: OptionInfo, kind: Any) -> list[str]:
    if kind is bool:
        return []
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return ["no-such-choice"]
    if kind in (int, float):
        below = [str(info.min - 1)] if info.min is not None else []
        return ["abc", *below]
    if kind is Path and info.exists:
        return ["/nonexistent/adapterctl-walk"]
    return []


CASES = [
    pytest.param(path, _long(info), value, id=f"{' '.join(path)} {_long(info)}={value}")
    for path, function in _commands(app)
    for info, kind in _options(function)
    for value in _bad_values(info, kind)
]


def test_the_walk_covers_the_typed_options() -> None:
    covered = {(" ".join(case.values[0]), case.values[1]) for case in CASES}  # type: ignore[arg-type]
    assert {("promote", "--weight"), ("merge", "--trigger"), ("sign", "--key"),
            ("canary analyze", "--format")} <= covered  # fmt: skip
    assert len(CASES) >= 40


@pytest.mark.parametrize(("path", "opt", "value"), CASES)
def test_a_value_of_the_wrong_kind_is_a_usage_error_naming_the_option(
    path: tuple[str, ...], opt: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*path, opt, value])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert f"Invalid value for '{opt}'" in err, err
    assert "internal error" not in err
    assert "Traceback" not in err + out
