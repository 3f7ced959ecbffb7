"""``adapterctl promote`` and ``adapterctl rollback``: route changes as pull-request branches."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import OptionGroup, option_groups
from adapterctl.cli.options import (
    DEFAULT_STORE,
    EnvOption,
    PrometheusOption,
    RootOption,
    ScrapeOption,
    StoreArgs,
    check_ref,
    parse_target,
    write_report,
)
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, InputError, UsageError
from adapterctl.gitops import prbody
from adapterctl.gitops.changes import Step
from adapterctl.gitops.promote import GatesFailed, Request, analysis_due, promote
from adapterctl.gitops.rollback import rollback
from adapterctl.layout import check_env_name
from adapterctl.mergedbases import merged_target
from adapterctl.model.common import NAME_PATTERN
from adapterctl.report import Format, render
from adapterctl.store.base import Store

SignOption = Annotated[
    bool, typer.Option("--sign", help="Sign the commit (git commit -S, your git signing key).")
]
PushOption = Annotated[
    bool,
    typer.Option(
        "--push",
        help="Push the branch and open the pull request (GitHub REST API when "
        "GITHUB_TOKEN is set).",
    ),
]
BodyOption = Annotated[
    Path | None,
    typer.Option(
        "--body-file",
        metavar="FILE",
        dir_okay=False,
        help="Write the pull-request body here instead of stdout.",
    ),
]
RemoteOption = Annotated[
    str, typer.Option("--remote", metavar="NAME", help="The git remote for --push.")
]


@dataclass(frozen=True)
class PublishArgs(OptionGroup):
    """``--sign``, ``--push``, ``--body-file``, ``--remote``: how a route change's branch is
    committed, and where its pull request goes."""

    sign: SignOption = False
    push: PushOption = False
    body_file: BodyOption = None
    remote: RemoteOption = "origin"

    def check_remote(self, root: Path) -> None:
        """Refuse --push before anything is written when there is nowhere to push."""
        if self.push:
            require_remote(root, self.remote)


DEFAULT_PUBLISH = PublishArgs()


@option_groups
def promote_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="NAME@VERSION",
            help="The revision to promote, or a merged base (NAME@REVISION) to route for the "
            "alias it was merged from.",
        ),
    ],
    env: EnvOption,
    weight: Annotated[
        int | None,
        typer.Option("--weight", metavar="W", help="Canary: route W % (1–99) to it."),
    ] = None,
    finish: Annotated[
        bool, typer.Option("--finish", help="Route 100 % to it; the previous one is retained.")
    ] = False,
    tenant: Annotated[
        list[str] | None,
        typer.Option(
            "--tenant",
            metavar="NAME",
            help="Canary tenant: the gateway sends its requests to this revision (repeat for "
            "more; without --weight, theirs only).",
        ),
    ] = None,
    how: PublishArgs = DEFAULT_PUBLISH,
    prometheus: PrometheusOption = None,
    scrape: ScrapeOption = None,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Promote a revision in ENV on a new branch promote/ENV/NAME-VERSION, with its PR body.
    Where ENV analyses canaries, a step that grows one needs its analysis to be Successful;
    a Failed one writes the rollback instead."""
    registry_root = resolve_root(root)
    name, version = merged_target(registry_root, target) or parse_target(target)
    check_env_name(env)
    if finish and weight is not None:
        raise UsageError("--weight and --finish exclude each other: a canary step or 100 %")
    if weight is not None and not 1 <= weight <= 99:
        raise UsageError(f"--weight {weight}: a canary weight is 1–99 (use --finish for 100 %)")
    tenants = _tenants(tenant, finish)
    how.check_remote(registry_root)
    request = Request(name, version, env, weight, finish, how.sign, tenants)
    stored = where.open(registry_root)
    if analysis_due(registry_root, request):
        judged = _judge(registry_root, request, (prometheus, scrape))
        if not judged.passed:
            return _rolled_back(registry_root, request, judged, stored, how)
        request = replace(request, analysis=(judged.trailer, judged.markdown))
    with gates_shown():
        promotion = promote(registry_root, stored, request, datetime.now(UTC))
    body = prbody.promotion_body(promotion)
    return publish(registry_root, promotion.step, body, how)


@contextmanager
def gates_shown() -> Iterator[None]:
    """When the gates refuse the change, their report on stdout before the refusal."""
    try:
        yield
    except GatesFailed as exc:
        sys.stdout.write(render(exc.report, Format.TEXT))
        raise


def _tenants(given: list[str] | None, finish: bool) -> tuple[str, ...] | None:
    """``--tenant`` values, checked; None when none were given."""
    if not given:
        return None
    if finish:
        raise UsageError("--tenant and --finish exclude each other: --finish routes every tenant")
    for name in given:
        if not re.fullmatch(NAME_PATTERN, name):
            raise UsageError(
                f"--tenant {name!r}: a tenant is named like the tenants of the gateway's key file: "
                "lower-case letters, digits and '-', at most 63, starting and ending with a "
                "letter or digit (e.g. acme-support)"
            )
    return tuple(dict.fromkeys(given))


@dataclass(frozen=True)
class _Judged:
    """A canary analysis that was decisive: Successful (passed) or Failed."""

    passed: bool
    trailer: str
    """The ``Canary-Analysis`` trailer of the commit it leads to."""
    markdown: str
    stable: str
    """The stable revision's version: where a Failed analysis sends all traffic back."""


def _judge(root: Path, request: Request, sources: tuple[str | None, list[str] | None]) -> _Judged:
    """The canary analysis of the revision this step grows; an Inconclusive one refuses."""
    from adapterctl.canary import analysis, present  # noqa: PLC0415
    from adapterctl.canary.judge import Phase  # noqa: PLC0415
    from adapterctl.canary.sources import Prometheus, Scrape  # noqa: PLC0415

    prometheus, scrape = sources
    label = f"{request.name}@{request.version}"
    if prometheus is None and not scrape:
        raise UsageError(
            f"{label} is a canary in {request.env}, which analyses canaries before they grow: "
            "give --prometheus URL (or ADAPTERCTL_PROMETHEUS_URL), or --scrape URL for each "
            "gateway"
        )
    subject = analysis.target(root, request.env, request.name, request.version)
    if prometheus is not None:
        result = analysis.from_prometheus(subject, Prometheus(prometheus), time.time())
    else:
        result = analysis.from_scrape(subject, Scrape(tuple(scrape or ())))
    sys.stdout.write(present.text(result))
    if result.phase is Phase.INCONCLUSIVE:
        raise InputError(f"not promoted: the canary analysis of {label} in {request.env} is "
                         f"{result.reason}", hint="more traffic to the canary, then promote "
                         "again (analysis.interval, analysis.min_requests)")  # fmt: skip
    trailer = f"{result.reason} ({result.source})"
    stable = subject.pair.versions[0]
    return _Judged(result.phase is Phase.SUCCESSFUL, trailer, present.markdown(result), stable)


def _rolled_back(
    root: Path,
    request: Request,
    judged: _Judged,
    store: Store,
    how: PublishArgs,
) -> int:
    """Write the rollback a Failed analysis calls for (all traffic back to the stable
    revision, the canary retained), then refuse the step."""
    trailers = (f"Canary-Analysis: {judged.trailer}",)
    result = rollback(root, store, request.env, request.name, to=judged.stable,
                      sign=request.sign, trailers=trailers)  # fmt: skip
    body = prbody.rollback_body(result, judged.markdown)
    publish(root, result.step, body, how)
    raise InputError(
        f"not promoted: the canary analysis of {request.name}@{request.version} in "
        f"{request.env} {judged.trailer.partition(':')[0].lower()}; the rollback is on branch "
        f"{result.step.branch}: merge it to take the canary out of traffic"
    )


@option_groups
def rollback_command(
    alias: Annotated[str, typer.Argument(metavar="NAME", help="The alias to roll back.")],
    env: EnvOption,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="Route all traffic to this earlier revision instead of reverting.",
        ),
    ] = None,
    how: PublishArgs = DEFAULT_PUBLISH,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
) -> int:
    """Revert the last change to NAME's routes in ENV (or route --to VERSION) on a branch."""
    check_env_name(env)
    check_ref(alias, alias)
    if to is not None:
        check_ref(f"--to {to}", alias, to)
    registry_root = resolve_root(root)
    how.check_remote(registry_root)
    result = rollback(
        registry_root,
        where.open(registry_root),
        env,
        alias,
        to=to,
        sign=how.sign,
    )
    body = prbody.rollback_body(result)
    return publish(registry_root, result.step, body, how)


def publish(root: Path, step: Step, body: str, how: PublishArgs) -> int:
    typer.echo(
        f"created branch {step.branch} at {step.commit[:12]} from {step.base_branch} "
        "(your checkout is unchanged)",
        err=True,
    )
    if how.body_file is None:
        sys.stdout.write(body)
    else:
        write_report(how.body_file, body)
    if how.push:
        _push(root, step, body, how.remote)
    return ExitCode.OK


def require_remote(root: Path, remote: str) -> None:
    """Refuse --push before anything is written when there is nowhere to push."""
    from adapterctl.gitops.pullrequest import remote_url  # noqa: PLC0415
    from adapterctl.gitrepo import RegistryRepo  # noqa: PLC0415

    remote_url(RegistryRepo.open(root, "--push").repo, remote)


def _push(root: Path, step: Step, body: str, remote: str) -> None:
    from adapterctl.gitops.pullrequest import github_settings, push_and_open  # noqa: PLC0415
    from adapterctl.gitrepo import RegistryRepo  # noqa: PLC0415

    token, api_url, repository = github_settings(os.environ)
    pull = push_and_open(
        RegistryRepo.open(root, "--push").repo,
        step.branch,
        base=step.base_branch,
        title=prbody.title(step),
        body=body,
        remote=remote,
        token=token,
        api_url=api_url,
        repository=repository,
    )
    if pull.created:
        typer.echo(f"opened pull request #{pull.number}: {pull.url}", err=True)
    elif pull.number is not None:
        typer.echo(f"pull request #{pull.number} already open: {pull.url}", err=True)
    elif pull.url:
        typer.echo(f"pushed {step.branch}; open the pull request at {pull.url}", err=True)
    else:
        typer.echo(f"pushed {step.branch} to {remote}; open its pull request by hand", err=True)
