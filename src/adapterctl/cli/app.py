"""The ``adapterctl`` application and its one top-level error handler."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import Annotated

import typer
from pydantic import ValidationError

from adapterctl import __version__
from adapterctl.cli import (
    canary,
    check,
    codeowners,
    commits,
    eval,
    gateway,
    gc,
    history,
    merge,
    policy,
    pressure,
    promote,
    promote_base,
    promptfoo,
    register,
    render,
    schemas,
    serve,
    signing,
    sync,
    triage,
    validate,
)
from adapterctl.errors import AdapterctlError, ExitCode, UsageError
from adapterctl.model.common import first_error

app = typer.Typer(
    name="adapterctl",
    help="A GitOps release train for LoRA adapters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("validate")(validate.command)
app.command("schemas")(schemas.command)
app.command("codeowners")(codeowners.command)
app.command("register-base")(register.base_command)
app.command("register")(register.adapter_command)
app.command("merge")(merge.command)
app.command("check")(check.command)
app.command("serve")(serve.command)
app.command("eval")(eval.command)
app.command("export-promptfoo")(promptfoo.command)
app.command("pressure")(pressure.command)
app.command("sign")(signing.sign_command)
app.command("verify")(signing.verify_command)
app.command("verify-commit")(commits.command)
app.command("history")(history.history_command)
app.command("diff")(history.diff_command)
app.command("gc")(gc.command)
app.command("promote")(promote.promote_command)
app.command("promote-base")(promote_base.command)
app.command("rollback")(promote.rollback_command)
app.command("sync")(sync.sync_command)
app.command("agent")(sync.agent_command)
app.command("status")(sync.status_command)
app.command("triage")(triage.command)
app.command("gateway")(gateway.command)
app.command("render")(render.command)
app.add_typer(policy.app, name="policy")
app.add_typer(canary.app, name="canary")

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adapterctl {__version__}")
        raise typer.Exit()


@app.callback()
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
        command = typer.main.get_command(app)
        return command.main(args=args, prog_name="adapterctl", standalone_mode=False)
    except ValidationError as exc:  # a value from the command line that no check caught
        raise UsageError(first_error(exc)) from None


def _internal(exc: Exception) -> int:
    if _state["debug"]:
        traceback.print_exception(exc)
    else:
        sys.stderr.write(
            f"adapterctl: internal error: {type(exc).__name__}: {exc}\n"
            "  → run again with --debug for the traceback, and report it\n"
        )
    return ExitCode.INTERNAL
