"""The gate for a merged base: its sources, its fingerprints, and numerical equivalence.

A base manifest with a ``merge`` record claims to be its source base with one adapter
folded in. The gate takes the claim apart: the source revision and base exist and are the
ones recorded (by digest); the tokenizer and chat template are the source base's; and the
merged weights, run beside base + adapter on the adapter's golden prompts and a fixed probe
set, give the same logits within the tolerance of the merged dtype
(:data:`adapterctl.merging.equivalence.TOLERANCES`). The figures are reported either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

from adapterctl.evals.templating import render as fill
from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.merging import missing, quiet
from adapterctl.merging.equivalence import TOLERANCES, Equivalence, Prompt, compare
from adapterctl.model import BaseManifest
from adapterctl.registry import Registry
from adapterctl.store.base import Store
from adapterctl.store.digests import DigestCache, digest_directory
from adapterctl.store.local import local_copy

Locate = Callable[[JsonPath], Location]

_TMP = "adapterctl-merged-"  # the temporary folders of fetched artifacts


def check_merged(
    registry: Registry,
    store: Store,
    merged: BaseManifest,
    locate: Locate,
    cache: DigestCache | None = None,
) -> list[Finding]:
    """Findings for the merged base ``merged`` (none when it has no merge record)."""
    if merged.merge is None:
        return []
    findings = _sources(registry, store, merged, locate)
    reason = missing()
    if not findings and reason is not None:
        findings.append(_error("cannot-compare", locate(("merge",)), reason))
    if findings:
        return findings
    record, weights = merged.merge, merged.weights_artifact
    assert weights is not None  # _sources checked it
    with ExitStack() as stack:
        stack.enter_context(quiet())
        merged_dir = stack.enter_context(local_copy(store, weights, _TMP))
        actual = digest_directory(merged_dir, cache=cache).digest
        if actual != weights:
            message = f"the stored merged weights hash to {actual}, not to the manifest's {weights}"
            return [_error("weights-changed", locate(("weights_artifact",)), message)]
        base_dir = stack.enter_context(local_copy(store, record.source.base_weights, _TMP))
        adapter_dir = stack.enter_context(local_copy(store, record.source.artifact_digest, _TMP))
        prompts = golden_prompts(registry, record.source.adapter.name)
        found = compare(base_dir, adapter_dir, merged_dir, prompts)
    adapter = str(record.source.adapter)
    findings.append(_verdict(found, record.dtype, record.tolerance, adapter, locate))
    default = TOLERANCES[record.dtype]
    if record.tolerance > default:
        message = (
            f"merged under a looser tolerance ({record.tolerance:g}) than the {record.dtype} "
            f"default ({default:g})"
        )
        hint = "reviewers: the merge record's reason must say why"
        where = locate(("merge", "tolerance"))
        findings.append(Finding("merge/loose-tolerance", Severity.WARNING, where, message, hint))
    return findings


def _sources(
    registry: Registry, store: Store, merged: BaseManifest, locate: Locate
) -> list[Finding]:
    """The sources are in the registry, the fingerprints are theirs, the weights are stored."""
    assert merged.merge is not None
    source = merged.merge.source
    revision = registry.revision(source.adapter.name, source.adapter.version)
    base = registry.base(source.base.name, source.base.revision)
    if revision is None or base is None:
        absent = source.adapter if revision is None else source.base
        message = f"merged from {absent}, which is not in the registry"
        return [_error("source-missing", locate(("merge", "source")), message)]
    findings = list(_fingerprints(merged, base, locate))
    weights = {
        ("weights_artifact",): merged.weights_artifact,
        ("merge", "source", "base_weights"): source.base_weights,
        ("merge", "source", "artifact_digest"): source.artifact_digest,
    }
    for field, digest in weights.items():
        if digest is None or not store.exists(digest):
            message = f"{digest or 'no digest'} is not in the store {store.uri}"
            findings.append(_error("weights-missing", locate(field), message))
    return findings


def _verdict(
    found: Equivalence, dtype: str, tolerance: float, adapter: str, locate: Locate
) -> Finding:
    figures = describe(found)
    where = locate(("merge", "dtype"))
    if found.max_abs_diff > tolerance:
        message = f"not equivalent to base + {adapter}: {figures}, above the {dtype} tolerance"
        return Finding("merge/not-equivalent", Severity.ERROR, where, f"{message} {tolerance:g}",
                       "merge again in float32, or report a PEFT bug; never serve it")  # fmt: skip
    message = f"equivalent to base + {adapter}: {figures} (tolerance {tolerance:g}, {dtype})"
    return Finding("merge/equivalent", Severity.INFO, where, message)


def describe(found: Equivalence) -> str:
    """The figures in words."""
    return (
        f"max |Δlogit| {found.max_abs_diff:.3g} over {found.positions} positions of "
        f"{found.sequences} sequences, top-1 agreement {found.top1_agreement:.1%}"
    )


def _fingerprints(merged: BaseManifest, base: BaseManifest, locate: Locate) -> Iterator[Finding]:
    for field in ("tokenizer_digest", "chat_template_digest"):
        want, got = getattr(base, field), getattr(merged, field)
        if want != got:
            what = field.removesuffix("_digest").replace("_", " ")
            message = f"the {what} differs from the source base's ({got}, source {want})"
            yield _error("fingerprint-changed", locate((field,)), message)


def golden_prompts(registry: Registry, line: str) -> list[Prompt]:
    """Every prompt of the line's golden suites, its variables filled in."""
    found = registry.line(line)
    prompts: list[Prompt] = []
    for suite_name in found.golden_suites if found is not None else ():
        suite = registry.suite(line, suite_name)
        if suite is None:
            continue
        for case in suite.cases:
            variables = {**suite.vars, **case.vars}
            if case.prompt is not None:
                prompts.append(fill(case.prompt, variables))
            else:
                messages = case.messages or ()
                prompts.append(tuple((m.role, fill(m.content, variables)) for m in messages))
    return prompts


def _error(rule: str, where: Location, message: str) -> Finding:
    return Finding(f"merge/{rule}", Severity.ERROR, where, message)
