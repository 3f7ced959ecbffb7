"""``adapterctl check``: the integrity and compat gates for adapter revisions."""

from __future__ import annotations

from typing import Annotated

import typer

from adapterctl.changes import added_merged_bases, added_revisions
from adapterctl.checks import check_revisions
from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    DEFAULT_STORE,
    ReportArgs,
    RootOption,
    StoreArgs,
    check_ref,
    parse_base,
)
from adapterctl.config import resolve_root
from adapterctl.errors import UsageError
from adapterctl.registry import Registry
from adapterctl.store.digests import DigestCache


def _parse(target: str) -> tuple[str, str]:
    name, sep, version = target.partition("@")
    if not sep or not name or not version:
        raise UsageError(f"{target}: expected NAME@VERSION, e.g. support-bot@1.2.0")
    check_ref(target, name, version)
    return name, version


@option_groups
def command(
    targets: Annotated[
        list[str] | None, typer.Argument(metavar="[NAME@VERSION]...", help="Revisions to check.")
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="Environment to check against (repeatable; default: every "
            "environment serving the revision's base).",
        ),
    ] = None,
    base: Annotated[
        list[str] | None,
        typer.Option(
            "--base",
            metavar="NAME@REV",
            help="A merged base to gate: sources, fingerprints, equivalence (repeatable).",
        ),
    ] = None,
    changed: Annotated[
        bool,
        typer.Option("--changed", help="Check every revision and base added since --against."),
    ] = False,
    against: Annotated[
        str | None, typer.Option("--against", metavar="REF", help="Git ref for --changed.")
    ] = None,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Check adapter revisions (integrity of the stored artifact, compat with the base) and
    merged bases (sources, fingerprints, numerical equivalence with base + adapter)."""
    registry_root = resolve_root(root)
    wanted = [_parse(target) for target in targets or ()]
    bases = [parse_base(text, f"--base {text}") for text in base or ()]
    if changed:
        if against is None:
            raise UsageError("--changed needs --against REF (e.g. origin/main)")
        wanted += added_revisions(registry_root, against)
        bases += added_merged_bases(registry_root, against)
    elif not wanted and not bases:
        raise UsageError(
            "name at least one NAME@VERSION or --base NAME@REV, or use --changed --against REF"
        )
    registry = Registry.load(registry_root)
    report = check_revisions(
        registry,
        where.open(registry_root),
        sorted(set(wanted)),
        env or (),
        DigestCache.default(),
        sorted(set(bases)),
    )
    return out.emit(report)
