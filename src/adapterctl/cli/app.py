"""The ``adapterctl`` application and its one top-level error handler."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Annotated

import typer
from pydantic import ValidationError

from adapterctl import __version__
from adapterctl.errors import AdapterctlError, ExitCode, UsageError
from adapterctl.model.common import first_error

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "command"),
    "schemas": ("schemas", "command"),
    "codeowners": ("codeowners", "command"),
    "register-base": ("register", "base_command"),
    "register": ("register", "adapter_command"),
    "merge": ("merge", "command"),
    "check": ("check", "command"),
    "serve": ("serve", "command"),
    "eval": ("eval", "command"),
    "export-promptfoo": ("promptfoo", "command"),
    "pressure": ("pressure", "command"),
    "sign": ("signing", "sign_command"),
    "verify": ("signing", "verify_command"),
    "verify-commit": ("commits", "command"),
    "history": ("history", "history_command"),
    "diff": ("history", "diff_command"),
    "gc": ("gc", "command"),
    "promote": ("promote", "promote_command"),
    "promote-base": ("promote_base", "command"),
    "rollback": ("promote", "rollback_command"),
    "sync": ("sync", "sync_command"),
    "agent": ("sync", "agent_command"),
    "status": ("sync", "status_command"),
    "triage": ("triage", "command"),
    "gateway": ("gateway", "command"),
    "render": ("render", "command"),
}
"""Command name → (module under adapterctl.cli, function), in the order ``--help`` lists them."""
GROUPS: dict[str, str] = {"policy": "policy", "canary": "canary"}
"""Command group name → the module under adapterctl.cli whose ``app`` it is."""


def _module(name: str) -> ModuleType:
    return import_module(f"adapterctl.cli.{name}")


@cache
def build(only: str | None = None) -> typer.Typer:
    """The application with every command, or with ``only`` that one: a command's module
    (and the domain modules it imports) is imported only when the command is there, so
    ``adapterctl sync …`` does not pay for importing the other twenty-seven."""
    application = typer.Typer(
        name="adapterctl",
        help="A GitOps release train for LoRA adapters.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    for name, (module, function) in COMMANDS.items():
        if only in (None, name):
            application.command(name)(getattr(_module(module), function))
    for name, module in GROUPS.items():
        if only in (None, name):
            application.add_typer(_module(module).app, name=name)
    return application


def __getattr__(name: str) -> typer.Typer:
    """``app``: the application with every command (the CLI reference and its tests)."""
    if name == "app":
        return build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adapterctl {__version__}")
        raise typer.Exit()


def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options; the commands follow."""
    del version  # handled eagerly by its callback
    _state["debug"] = debug


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every outcome becomes an exit code, never a raw traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    _state["debug"] = "--debug" in args
    try:
        result = _run(args)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return 130
    except typer.TyperException as exc:  # typer's (vendored) click usage errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return ExitCode.USAGE
    except AdapterctlError as exc:
        sys.stderr.write(f"adapterctl: error: {exc.diagnostics()}\n")
        return exc.exit_code
    except Exception as exc:  # the one place that turns bugs into exit 3
        return _internal(exc)
    return int(result) if isinstance(result, int) else ExitCode.OK


def _run(args: list[str]) -> object:
    try:
        return _command(args[0] if args else None).main(
            args=args, prog_name="adapterctl", standalone_mode=False
        )
    except ValidationError as exc:  # a value from the command line that no check caught
        raise UsageError(first_error(exc)) from None


@cache
def _command(first: str | None) -> typer.core.TyperGroup:
    """The click command for arguments that begin with ``first``: only that command's when
    it names one, else all of them (``--help``, ``--version``, a global option, a typo)."""
    only = first if first in COMMANDS or first in GROUPS else None
    command = typer.main.get_command(build(only))
    assert isinstance(command, typer.core.TyperGroup)
    return command


def _internal(exc: Exception) -> int:
    if _state["debug"]:
        traceback.print_exception(exc)
    else:
        sys.stderr.write(
            f"adapterctl: internal error: {type(exc).__name__}: {exc}\n"
            "  → run again with --debug for the traceback, and report it\n"
        )
    return ExitCode.INTERNAL
