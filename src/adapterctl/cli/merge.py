"""``adapterctl merge``: serve an adapter as full weights, registered as a new base.

The source revision's signature is verified first, offline, against the verifier's trust
file (as ``verify`` does): a merged base records the bundle it came from, so it may only
come from one that verifies.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from adapterctl.cli.groups import option_groups
from adapterctl.cli.options import (
    DEFAULT_REPORT,
    DEFAULT_STORE,
    ReportArgs,
    RootOption,
    StoreArgs,
    TargetArgument,
    parse_target,
    require_trust,
    trust_option,
)
from adapterctl.cli.register import valid_base_ref
from adapterctl.config import resolve_root
from adapterctl.errors import ExitCode, UsageError
from adapterctl.findings import Report, Severity
from adapterctl.model.base import MergeTrigger
from adapterctl.registry import Registry
from adapterctl.store.digests import DigestCache


class Dtype(StrEnum):
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


NameOption = Annotated[str, typer.Option("--name", help="The merged base's name (bases/<name>/).")]
RevisionOption = Annotated[str, typer.Option("--revision", help="The merged base's revision.")]
TriggerOption = Annotated[
    MergeTrigger,
    typer.Option("--trigger", help="The business reason, recorded for the reviewers."),
]
ReasonOption = Annotated[
    str, typer.Option("--reason", help="The decision in words: figures, budget, ticket.")
]
DtypeOption = Annotated[
    Dtype | None,
    typer.Option("--dtype", help="The merged weights' dtype (default: the base's)."),
]
ToleranceOption = Annotated[
    float | None,
    typer.Option(
        "--tolerance",
        help="Largest |Δlogit| from base + adapter (default per dtype: float32 1e-3, "
        "float16 5e-2, bfloat16 0.25); recorded in the merge record.",
    ),
]
TrustOption = Annotated[
    Path | None,
    trust_option("The verifier's trust file: the source revision's signature must verify."),
]


@option_groups
def command(
    target: TargetArgument,
    name: NameOption,
    revision: RevisionOption,
    trigger: TriggerOption,
    reason: ReasonOption,
    dtype: DtypeOption = None,
    tolerance: ToleranceOption = None,
    trust: TrustOption = None,
    root: RootOption = None,
    where: StoreArgs = DEFAULT_STORE,
    out: ReportArgs = DEFAULT_REPORT,
) -> int:
    """Merge NAME@VERSION into its base with PEFT and register the result as a new base."""
    from adapterctl.gates.merged import describe  # noqa: PLC0415 - torch, heavy
    from adapterctl.merging import require  # noqa: PLC0415
    from adapterctl.register.merged import (  # noqa: PLC0415
        MergeRequest,
        merge_revision,
        preflight,
    )

    adapter, version = parse_target(target)
    valid_base_ref(name, revision, {"name": "--name"})
    if tolerance is not None and not tolerance > 0:
        raise UsageError(f"--tolerance: must be above 0, got {tolerance:g}")
    if not reason.strip():
        raise UsageError("--reason: say why the adapter is served merged (figures, ticket)")
    trust = require_trust(trust, "merge verifies the source's signature")
    require()
    registry_root = resolve_root(root)
    registry = Registry.load(registry_root)
    target_store = where.open(registry_root)
    request = MergeRequest(adapter, version, name, revision, trigger, reason.strip(),
                           None if dtype is None else dtype.value, tolerance)  # fmt: skip
    preflight(registry, request)
    verified = _verify(registry, registry_root, trust, where, adapter, version)
    if verified is not None:
        return out.emit(verified)
    result = merge_revision(registry, target_store, request, DigestCache.default())
    sys.stdout.write(
        f"wrote {result.path} (weights {result.weights}, {result.dtype})\n"
        f"equivalence: {describe(result.equivalence)}; tolerance {result.tolerance:g}\n"
        f"next: adapterctl sign {name}@{revision} --base --key KEY, then a pull request\n"
    )
    return ExitCode.OK


def _verify(
    registry: Registry, root: Path, trust: Path, where: StoreArgs,
    adapter: str, version: str,
) -> Report | None:  # fmt: skip
    """The verify report when the source's signature does not verify, else None."""
    from adapterctl.gates import trust as gate  # noqa: PLC0415 - model-signing, heavy

    loaded, problems = gate.load_trust(trust, str(trust))
    if loaded is None:
        return Report.build("merge", [str(trust)], problems)
    setup = gate.Setup.of(trust, root, where.at(root), DigestCache.default().path)
    targets = gate.targets_of(registry, [(adapter, version)])
    report, _ = gate.verify_targets(setup, loaded, targets, registry.locate, 1)
    if any(f.severity is Severity.ERROR for f in report.findings):
        return Report.build("merge", report.checked, report.findings)
    return None
