"""``adapterctl policy check``: separation of duties on a pull request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import DEFAULT_REPORT, ReportArgs, RootOption, file_option
from adapterctl.config import resolve_root
from adapterctl.findings import Report
from adapterctl.gates import policy as gate
from adapterctl.policy.context import Request, prepare

app = typer.Typer(no_args_is_help=True, help="Separation-of-duties policy on pull requests.")


PrOption = Annotated[Path, file_option("--pr", "GET repos/OWNER/REPO/pulls/N, as JSON.")]
ReviewsOption = Annotated[
    Path,
    file_option("--reviews", "GET repos/OWNER/REPO/pulls/N/reviews (gh api --paginate --slurp)."),
]
FilesOption = Annotated[
    Path | None,
    file_option("--files", "GET repos/OWNER/REPO/pulls/N/files (default: git diff base...head)."),
]
TeamsOption = Annotated[
    Path | None, file_option("--teams", "Teams and people file (default: the policy's teams.yaml).")
]
SignersOption = Annotated[
    Path | None, file_option("--signers", "NAME@VERSION → identities that signed its artifact.")
]
BaseRefOption = Annotated[
    str | None,
    typer.Option(
        "--base-ref",
        metavar="REF",
        help="Target branch (e.g. origin/main) to read CODEOWNERS, teams.yaml and "
        "environments from, instead of the working tree.",
    ),
]


@app.command("check")
@option_groups
def check_command(
    pr: PrOption,
    reviews: ReviewsOption,
    files: FilesOption = None,
    teams: TeamsOption = None,
    signers: SignersOption = None,
    base_ref: BaseRefOption = None,
    root: RootOption = None,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Check a pull request's approvals: head commit, author, trainer, code owners, teams."""
    request = Request(resolve_root(root), pr, reviews, files, teams, signers, base_ref)
    prepared = prepare(request)
    findings = [*prepared.findings, *gate.check(prepared.policy)]
    return out.emit(Report.build("policy check", prepared.checked, findings))
