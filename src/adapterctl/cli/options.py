"""Options shared by several commands, and writing a rendered report."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from adapterctl import layout
from adapterctl.cli.groups import OptionGroup
from adapterctl.cli.stores import store_for
from adapterctl.config import store_uri
from adapterctl.errors import ExitCode, UsageError
from adapterctl.findings import Report
from adapterctl.fsutil import write_atomic
from adapterctl.model import HardwareClass
from adapterctl.model.common import Frozen
from adapterctl.model.kinds import Kind
from adapterctl.model.refs import AdapterRef, BaseRef
from adapterctl.model.trust import TRUST_ENV
from adapterctl.registry import Registry
from adapterctl.report import Format, render
from adapterctl.store.base import Store

_SURROGATE = re.compile("[\ud800-\udfff]")

RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Registry root (default: the nearest folder with pyproject.toml \\[tool.adapterctl]).",
        file_okay=False,
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="ADAPTERCTL_STORE",
        help="Artifact store URI, file:// or s3:// (default: \\[tool.adapterctl] store).",
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="S3-compatible endpoint (MinIO, Ceph) for s3:// stores."),
]


@dataclass(frozen=True)
class StoreArgs(OptionGroup):
    """``--store`` and ``--endpoint-url``: the artifact store a command reads or writes."""

    store: StoreOption = None
    endpoint_url: EndpointOption = None

    def open(self, root: Path) -> Store:
        """The store (``--store``, else the registry's); a bad URI is a usage error."""
        return store_for(root, self.store, self.endpoint_url)

    def at(self, root: Path) -> tuple[str, str | None]:
        """The store's URI and its S3 endpoint, for what opens it later (a worker)."""
        return store_uri(root, self.store), self.endpoint_url


DEFAULT_STORE = StoreArgs()

TargetArgument = Annotated[
    str, typer.Argument(metavar="NAME@VERSION", help="The candidate revision.")
]
NodeURLOption = Annotated[
    str,
    typer.Option(
        "--endpoint", metavar="URL", help="OpenAI-compatible base URL, e.g. http://node:8000/v1."
    ),
]
BaselineOption = Annotated[
    str,
    typer.Option(
        "--baseline", metavar="VERSION|auto|none", help="auto: what ENV routes most traffic to."
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="ADAPTERCTL_API_KEY", help="Bearer key of the endpoint."),
]
HardwareClassOption = Annotated[
    list[str] | None,
    typer.Option(
        "--hardware-class",
        metavar="CLASS",
        envvar="ADAPTERCTL_HARDWARE_CLASS",
        help="The node's hardware class (hardware/CLASS.yaml): absolute budgets promised for "
        "another class are reported, not enforced.",
    ),
]
RepoURLOption = Annotated[
    str, typer.Option("--repo", metavar="URL", help="The registry repository to follow.")
]
BranchOption = Annotated[
    str, typer.Option("--branch", metavar="NAME", help="The branch to follow.")
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
EnvOption = Annotated[
    str, typer.Option("--env", metavar="ENV", help="The environment (environments/ENV/).")
]


class TextOrJson(StrEnum):
    """The output formats of commands whose results are not findings."""

    TEXT = "text"
    JSON = "json"


TextOrJsonOption = Annotated[TextOrJson, typer.Option("--format", "-f", help="Output format.")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the report to this file instead of stdout.", dir_okay=False
    ),
]


@dataclass(frozen=True)
class ReportArgs(OptionGroup):
    """``--format`` and ``--output``: how and where a command reports its findings."""

    fmt: FormatOption = Format.TEXT
    output: OutputOption = None

    def emit(self, report: Report) -> int:
        """:func:`emit` the report as asked."""
        return emit(report, self.fmt, self.output)


DEFAULT_REPORT = ReportArgs()


def file_option(
    flag: str,
    help_text: str,
    *,
    metavar: str = "FILE",
    exists: bool = True,
    envvar: str | None = None,
) -> Any:
    """An option naming a file (not a folder); by default one that must exist."""
    return typer.Option(
        flag, metavar=metavar, help=help_text, exists=exists, dir_okay=False, envvar=envvar
    )


def trust_option(help_text: str) -> Any:
    """``--trust FILE`` (or $ADAPTERCTL_TRUST): the verifier's trust file."""
    return file_option("--trust", help_text, exists=False, envvar=TRUST_ENV)


def require_trust(trust: Path | None, why: str) -> Path:
    """The trust file a command cannot run without; a usage error saying ``why`` if none."""
    if trust is None:
        raise UsageError(f"{why}: pass --trust FILE or set {TRUST_ENV}")
    return trust


def emit(report: Report, fmt: Format, output: Path | None) -> int:
    """Render ``report``, write it, and return the exit code its findings call for."""
    text = render(report, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        write_report(output, text)
    return ExitCode.FINDINGS if report.failed else ExitCode.OK


def write_report(path: Path, text: str) -> None:
    """Write a report file atomically; a path that cannot be written is a usage error."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def hardware_class(registry: Registry, given: list[str] | None) -> str | None:
    """The node's hardware class from ``--hardware-class``: one class the registry declares."""
    if not given:
        return None
    if len(given) > 1:
        raise UsageError(
            f"--hardware-class is given {len(given)} times ({', '.join(given)}): "
            "a node belongs to one hardware class"
        )
    name = given[0]
    if registry.model(layout.hardware_path(name), HardwareClass) is None:
        known = sorted(e.placement.name for e in registry.of_kind(Kind.HARDWARE_CLASS))
        declared = f"the registry declares {', '.join(known)}" if known else "it declares none"
        raise UsageError(
            f"--hardware-class {name}: no hardware class {layout.hardware_path(name)} ({declared})",
            hint="declare the class in hardware/CLASS.yaml (docs/hardware.md)",
        )
    return name


def parse_target(text: str) -> tuple[str, str]:
    """``NAME@VERSION`` from the command line, as (name, version): a valid name and a
    semantic version, so that neither can name a path outside adapters/NAME/."""
    name, sep, version = text.partition("@")
    if not sep or not name or not version:
        raise UsageError(f"{shown_text(text)}: expected NAME@VERSION, e.g. support-bot@1.2.0")
    check_ref(text, name, version)
    return name, version


def parse_base(text: str, shown: str | None = None) -> tuple[str, str]:
    """``NAME@REVISION`` of a base from the command line, as (name, revision): a valid base
    name and revision, so that neither can name a path outside bases/NAME/. Messages start
    with ``shown`` (the option and its value), else with ``text``."""
    shown = shown or text
    name, sep, revision = text.partition("@")
    if not sep or not name or not revision:
        raise UsageError(
            f"{shown_text(shown)}: expected NAME@REVISION of a base, e.g. support-bot-merged@r1"
        )
    _check(shown, BaseRef, {"name": name, "revision": revision})
    return name, revision


def check_ref(shown: str, name: str, version: str | None = None) -> None:
    """An adapter name (and version) from the command line, checked: a usage error that
    starts with ``shown`` (the argument or option as given) and states the rule."""
    _check(shown, AdapterRef, {"name": name, "version": "0.0.0" if version is None else version})


def _check(shown: str, model: type[Frozen], values: dict[str, str]) -> None:
    check_utf8(shown)
    try:
        model.model_validate(values)
    except ValidationError as exc:
        raise UsageError(f"{shown}: {exc.errors()[0]['msg']}") from None


def check_utf8(shown: str) -> None:
    """Refuse command-line text that is not UTF-8: Python keeps such bytes as lone surrogates,
    which no name, version or revision may hold (and pydantic cannot quote)."""
    found = _SURROGATE.search(shown)
    if found is not None:
        code = ord(found.group())
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise UsageError(f"{shown_text(shown)}: not UTF-8 text ({what})")


def shown_text(text: str) -> str:
    """Command-line text as it can be shown: bytes that are not UTF-8 as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


PrometheusOption = Annotated[
    str | None,
    typer.Option("--prometheus", metavar="URL", envvar="ADAPTERCTL_PROMETHEUS_URL",
                  help="Prometheus that scrapes the gateways (its HTTP API)."),
]  # fmt: skip
ScrapeOption = Annotated[
    list[str] | None,
    typer.Option("--scrape", metavar="URL",
                 help="A gateway's /metrics URL, when no Prometheus (repeat for each replica)."),
]  # fmt: skip
