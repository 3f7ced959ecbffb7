"""``merge``: an adapter revision folded into its base's weights, registered as a new base.

The source must be a revision of the registry whose signature verified (the command
verifies it against the verifier's trust file before calling :func:`merge_revision`) and
that passes its integrity and compat gates; its base must have its weights in the store.
The merged folder is compared with base + adapter (:mod:`adapterctl.merging.equivalence`)
before anything is stored or written: a merge outside its dtype's tolerance leaves the
store and the registry as they were.
"""

from __future__ import annotations

import getpass
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from adapterctl import layout
from adapterctl.checks import check_revisions
from adapterctl.errors import InputError
from adapterctl.findings import Severity
from adapterctl.gates.merged import describe, golden_prompts
from adapterctl.inspect.base import read_base
from adapterctl.merging import quiet
from adapterctl.merging.equivalence import TOLERANCES, Equivalence, compare
from adapterctl.merging.weights import base_dtype, merge
from adapterctl.model import AdapterRevision, BaseManifest
from adapterctl.model.base import MergeTrigger
from adapterctl.model.kinds import Kind
from adapterctl.register.writer import ensure_new, now, render, write_new
from adapterctl.registry import Registry
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache, digest_directory, sha256_file
from adapterctl.store.local import local_copy
from adapterctl.store.publish import publish

_TMP = "adapterctl-merged-"  # the temporary folders of fetched artifacts


class MergeRefused(InputError):
    """The revision cannot be merged as asked; nothing was stored or written."""


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """What ``adapterctl merge`` was asked."""

    name: str
    version: str
    base_name: str
    base_revision: str
    trigger: MergeTrigger
    reason: str
    dtype: str | None = None
    tolerance: float | None = None
    """The largest |Δlogit| accepted; None: the dtype's default (``TOLERANCES``)."""


@dataclass(frozen=True, slots=True)
class MergeResult:
    path: str
    """The new base manifest, repository-relative."""
    weights: str
    dtype: str
    equivalence: Equivalence
    tolerance: float


def preflight(registry: Registry, request: MergeRequest) -> AdapterRevision:
    """The source revision, registered and with its bundle, before its signature is verified;
    and no base manifest yet where the merged one goes."""
    label = f"{request.name}@{request.version}"
    revision = registry.revision(request.name, request.version)
    manifest = layout.revision_path(request.name, request.version)
    if revision is None:
        what = "is not a valid manifest" if registry.exists(manifest) else "does not exist"
        raise MergeRefused(f"cannot merge {label}: {manifest} {what}")
    ensure_new(registry.root, layout.base_path(request.base_name, request.base_revision))
    bundle = layout.bundle_path(request.name, request.version)
    if not (registry.root / bundle).is_file():
        raise MergeRefused(
            f"cannot merge {label}: it is not signed ({bundle} does not exist)",
            hint=f"sign it first: adapterctl sign {label} --key KEY",
        )
    return revision


def merge_revision(
    registry: Registry, store: Store, request: MergeRequest, cache: DigestCache | None = None
) -> MergeResult:
    """Merge, compare, store the weights and write ``bases/<name>/<revision>.yaml``."""
    revision = preflight(registry, request)
    label = f"{request.name}@{request.version}"
    path = layout.base_path(request.base_name, request.base_revision)
    bundle = registry.root / layout.bundle_path(revision.name, revision.version)
    _passes_gates(registry, store, revision, cache)
    source = registry.base(revision.base.name, revision.base.revision)
    source_path = layout.base_path(revision.base.name, revision.base.revision)
    if source is None:
        raise MergeRefused(f"cannot merge {label}: its base {source_path} is missing or invalid")
    if source.weights_artifact is None or not store.exists(source.weights_artifact):
        raise MergeRefused(
            f"cannot merge {label}: {source_path} has no weights in the store {store.uri}",
            hint="register the base with --store-weights where merged models are built",
        )
    with ExitStack() as stack:
        stack.enter_context(quiet())
        base_dir = stack.enter_context(local_copy(store, source.weights_artifact, _TMP))
        adapter_dir = stack.enter_context(local_copy(store, revision.artifact.digest, _TMP))
        out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="adapterctl-merge-")))
        return _merge_in(registry, store, request, revision, source, base_dir, adapter_dir,
                         out / "merged", bundle, path)  # fmt: skip


def _merge_in(
    registry: Registry, store: Store, request: MergeRequest, revision: AdapterRevision,
    source: BaseManifest, base_dir: Path, adapter_dir: Path, out: Path, bundle: Path, path: str,
) -> MergeResult:  # fmt: skip
    info = read_base(base_dir)
    dtype = request.dtype or base_dtype(base_dir)
    merged = merge(base_dir, adapter_dir, out, info.tokenizer_files, dtype)
    found = compare(base_dir, adapter_dir, merged.folder, golden_prompts(registry, request.name))
    tolerance = TOLERANCES[dtype] if request.tolerance is None else request.tolerance
    if found.max_abs_diff > tolerance:
        raise MergeRefused(
            f"the merged model is not equivalent to {request.name}@{request.version} on "
            f"{revision.base}: {describe(found)}, above the {dtype} tolerance {tolerance:g}",
            hint="nothing was stored; merge in float32 (--dtype float32), or report a PEFT bug",
        )
    merged_info = read_base(out)
    digests = digest_directory(out)
    weights = digests.digest
    manifest_text = registry.root / layout.revision_path(revision.name, revision.version)
    document = {
        "name": request.base_name,
        "revision": request.base_revision,
        "created": now(),
        "source": f"merge of {revision.name}@{revision.version} into {revision.base}",
        "architecture": merged_info.architecture,
        "config_digest": merged_info.config_digest,
        "tokenizer_digest": merged_info.tokenizer_digest,
        "chat_template_digest": merged_info.chat_template_digest,
        "tokenizer_artifact": source.tokenizer_artifact,
        "weights_artifact": weights,
        "quantization": merged_info.quantization,
        "vocab_size": merged_info.vocab_size,
        "max_model_len": merged_info.max_model_len,
        "shapes": merged_info.shapes,
        "merge": {
            "source": {
                "adapter": {"name": revision.name, "version": revision.version},
                "manifest_digest": sha256_file(manifest_text),
                "artifact_digest": revision.artifact.digest,
                "signature_digest": sha256_file(bundle),
                "base": {"name": source.name, "revision": source.revision},
                "base_weights": source.weights_artifact,
                "base_config_digest": source.config_digest,
            },
            "method": "peft-merge-and-unload",
            "dtype": merged.dtype,
            "peft_version": merged.peft_version,
            "tolerance": tolerance,
            "trigger": request.trigger.value,
            "reason": request.reason,
            "merged_by": merged_by(registry.root),
        },
    }
    text = render(path, Kind.BASE, BaseManifest.model_validate(document))
    publish(store, weights, out, digests.files)
    write_new(registry.root, path, text)
    return MergeResult(path, weights, merged.dtype, found, tolerance)


def merged_by(root: Path) -> str:
    """Who runs the merge, as git would record them as author (``git var``), else the login."""
    run = subprocess.run(["git", "-C", str(root), "var", "GIT_AUTHOR_IDENT"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    ident = run.stdout.strip().rsplit(" ", 2)[0] if run.returncode == 0 else ""
    return ident or getpass.getuser()


def _passes_gates(
    registry: Registry, store: Store, revision: AdapterRevision, cache: DigestCache | None
) -> None:
    report = check_revisions(registry, store, [(revision.name, revision.version)], (), cache)
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        raise MergeRefused(
            f"cannot merge {revision.name}@{revision.version}: it does not pass its gates "
            f"({first.rule}: {first.message})",
            hint=f"adapterctl check {revision.name}@{revision.version} shows every finding",
        )
