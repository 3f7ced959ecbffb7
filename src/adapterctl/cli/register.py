"""``adapterctl register-base`` and ``adapterctl register``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    DEFAULT_STORE,
    ReportArgs,
    RootOption,
    StoreArgs,
    check_utf8,
)
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, UsageError
from adapterctl.findings import Report
from adapterctl.model import BaseRef
from adapterctl.model.common import Frozen
from adapterctl.model.refs import AdapterRef
from adapterctl.register.adapter import Candidate, register_adapter
from adapterctl.register.base import register_base
from adapterctl.registry import Registry
from adapterctl.store.digests import DigestCache

DirArgument = Annotated[
    Path, typer.Argument(exists=True, file_okay=False, dir_okay=True, resolve_path=False)
]


@option_groups
def base_command(
    path: DirArgument,
    name: Annotated[str, typer.Option("--name", help="Base name (bases/<name>/).")],
    revision: Annotated[str, typer.Option("--revision", help="Upstream commit or label.")],
    source: Annotated[
        str | None, typer.Option("--source", help="Where the weights come from.")
    ] = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Another name trainers use (repeatable).")
    ] = None,
    store_weights: Annotated[
        bool,
        typer.Option("--store-weights", help="Also store the whole model directory (small bases)."),
    ] = False,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Fingerprint a base model directory and write bases/<name>/<revision>.yaml."""
    valid_base_ref(name, revision, {"name": "--name"})
    registry_root = resolve_root(root)
    written = register_base(
        registry_root,
        path,
        where.open(registry_root),
        name=name,
        revision=revision,
        source=source,
        aliases=tuple(alias or ()),
        store_weights=store_weights,
    )
    sys.stdout.write(f"wrote {written}\n")
    return ExitCode.OK


def _parse_ref(text: str) -> BaseRef:
    name, sep, revision = text.partition("@")
    if not sep:
        raise UsageError(f"--base {text}: expected NAME@REVISION, e.g. tiny-llama@r1")
    ref = _valid(BaseRef, {"name": name, "revision": revision}, {"name": "--base"})
    assert isinstance(ref, BaseRef)
    return ref


def valid_base_ref(name: str, revision: str, options: dict[str, str]) -> None:
    """A base's name and revision as given on the command line, checked (usage error)."""
    _valid(BaseRef, {"name": name, "revision": revision}, options)


def _valid(model: type[Frozen], values: dict[str, str], options: dict[str, str]) -> Frozen:
    """``values`` as ``model``, checked where they enter; a bad one is a usage error naming
    its option (``options``: field → option, else ``--field``) and the rule."""
    for field, value in values.items():
        check_utf8(f"{options.get(field, '--' + field)} {value}")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        raise UsageError(f"{options.get(field, '--' + field)}: {error['msg']}") from None


@option_groups
def adapter_command(
    path: DirArgument,
    name: Annotated[str, typer.Option("--name", help="Adapter line (adapters/<name>/).")],
    version: Annotated[str, typer.Option("--version", help="Semantic version, e.g. 1.2.0.")],
    base: Annotated[
        str, typer.Option("--base", metavar="NAME@REV", help="Base it was trained on.")
    ],
    description: Annotated[str, typer.Option("--description", help="What this revision changes.")],
    training: Annotated[
        Path | None,
        typer.Option("--training", help="Training hand-over record (default: PATH/training.yaml)."),
    ] = None,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Check a PEFT LoRA directory, store it, and write adapters/<name>/<version>.yaml."""
    _valid(AdapterRef, {"name": name, "version": version}, {})
    registry_root = resolve_root(root)
    candidate = Candidate(
        adapter_dir=path,
        name=name,
        version=version,
        base=_parse_ref(base),
        training_file=training or path / "training.yaml",
        description=description,
    )
    registry = Registry.load(registry_root)
    target = where.open(registry_root)
    written, findings = register_adapter(registry, target, candidate, DigestCache.default())
    report = Report.build("register", [str(path)], findings)
    code = out.emit(report)
    if written is not None:
        sys.stderr.write(f"wrote {written} (artifact {target.uri})\n")
    return code
