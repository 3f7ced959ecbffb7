"""Option groups: declared once as a dataclass, spread into the options typer reads."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated

import typer
from typer.testing import CliRunner

from adapterctl.cli.groups import OptionGroup, option_groups

NameOption = Annotated[str, typer.Option("--name", help="A name.")]
CountOption = Annotated[int, typer.Option("--count", min=1, help="How many.")]
LoudFlag = Annotated[bool, typer.Option("--loud", help="Shout.")]


@dataclass(frozen=True)
class Pair(OptionGroup):
    name: NameOption
    count: CountOption = 1


@option_groups
def command(first: Annotated[str, typer.Argument()], pair: Pair, loud: LoudFlag = False) -> int:
    """Echo the gathered group."""
    typer.echo(f"{first} {pair!r} {loud}")
    return 0


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(command)
    return app


def test_the_group_is_spread_where_it_stands() -> None:
    names = list(inspect.signature(command).parameters)
    assert names == ["first", "name", "count", "loud"]
    required = inspect.signature(command).parameters["name"]
    assert required.default is inspect.Parameter.empty


def test_the_values_are_gathered_back_into_the_group() -> None:
    result = CliRunner().invoke(_app(), ["x", "--name", "n", "--count", "3", "--loud"])
    assert (result.exit_code, result.output) == (0, "x Pair(name='n', count=3) True\n")


def test_the_fields_keep_their_options() -> None:
    result = CliRunner().invoke(_app(), ["x", "--name", "n", "--count", "0"])
    assert result.exit_code == 2
    assert "--count" in result.output
    assert CliRunner().invoke(_app(), ["x"]).exit_code == 2  # --name is required
