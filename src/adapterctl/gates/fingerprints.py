"""The compat gate, environment side: rank limit, base, quantization, tokenizer, template.

A fingerprint difference is explained by behaviour: the probe text is encoded with both
tokenizers and the probe conversation rendered with both chat templates (from the
tokenizer artifacts the base manifests point at). Same behaviour with different bytes is
a warning; different behaviour is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.inspect.chat_template import compare_templates
from adapterctl.inspect.tokenizer import Difference, compare_tokenizers
from adapterctl.model import AdapterRevision, BaseManifest, Environment, Quantization
from adapterctl.store.base import Store
from adapterctl.store.local import local_copy

Locate = Callable[[JsonPath], Location]
Compare = Callable[[Path, Path], Difference | None]


def check_environment(
    revision: AdapterRevision,
    env: Environment,
    bases: tuple[BaseManifest | None, BaseManifest],
    store: Store,
    locate: Locate,
) -> list[Finding]:
    """``bases`` is (the revision's own base manifest, if any; the environment's base)."""
    own, served = bases
    findings = list(_rank(revision, env, locate))
    if revision.base != env.base:
        findings.append(
            _error(
                "base-mismatch",
                locate(("base",)),
                f"trained on base {revision.base}, but environment {env.name} serves {env.base}",
            )
        )
    if revision.quantization != served.quantization:
        findings.append(_quantization(revision.quantization, served, locate))
    findings += _fingerprint("tokenizer", revision.tokenizer_digest, own, served, store, locate)
    template = revision.chat_template_digest
    findings += _fingerprint("chat template", template, own, served, store, locate)
    return findings


def _error(rule: str, location: Location, message: str, hint: str | None = None) -> Finding:
    return Finding(f"compat/{rule}", Severity.ERROR, location, message, hint)


def _rank(revision: AdapterRevision, env: Environment, locate: Locate) -> Iterator[Finding]:
    limit = env.serving.max_lora_rank
    if revision.lora.rank > limit:
        yield _error(
            "rank-limit",
            locate(("lora", "rank")),
            f"rank {revision.lora.rank} is above environment {env.name}'s max_lora_rank {limit}",
            f"retrain with r ≤ {limit}, or raise serving.max_lora_rank after checking GPU memory",
        )


def _describe(quantization: Quantization) -> str:
    if quantization.is_none:
        return "none"
    parts: list[str] = [quantization.method]
    if quantization.bits:
        parts.append(f"{quantization.bits}-bit")
    if quantization.group_size is not None:
        parts.append(f"group size {quantization.group_size}")
    return " ".join(parts)


def _quantization(quantization: Quantization, served: BaseManifest, locate: Locate) -> Finding:
    return _error(
        "quantization",
        locate(("quantization",)),
        f"trained against quantization {_describe(quantization)}, but the environment's base "
        f"{served.name}@{served.revision} is {_describe(served.quantization)}",
        "retrain against the served base's quantization profile",
    )


def _fingerprint(
    what: str,
    digest: str,
    own: BaseManifest | None,
    served: BaseManifest,
    store: Store,
    locate: Locate,
) -> list[Finding]:
    field = "tokenizer_digest" if what == "tokenizer" else "chat_template_digest"
    location = locate((field,))
    rule = "tokenizer-drift" if what == "tokenizer" else "template-drift"
    if own is not None and digest != getattr(own, field):
        message = (
            f"the manifest's {field} is not the one its base {own.name}@{own.revision} records "
            f"({getattr(own, field)})"
        )
        return [_error(rule, location, message, "re-register the adapter against its base")]
    if digest == getattr(served, field):
        return []
    if own is None or own.tokenizer_artifact is None or served.tokenizer_artifact is None:
        message = (
            f"{what} differs from the environment's base {served.name}@{served.revision}, "
            "and the base manifests hold no tokenizer artifact to compare behaviour"
        )
        return [_error(rule, location, message, "register the bases with register-base")]
    compare: Compare = compare_tokenizers if what == "tokenizer" else compare_templates
    trained_dir = local_copy(store, own.tokenizer_artifact, "adapterctl-fetch-")
    served_copy = local_copy(store, served.tokenizer_artifact, "adapterctl-fetch-")
    with trained_dir as trained, served_copy as served_dir:
        difference = compare(trained, served_dir)
    if difference is None:
        message = (
            f"{what} files differ from the environment's base {served.name}@{served.revision}, "
            "but behave the same on the probe"
        )
        return [Finding(f"compat/{rule}", Severity.WARNING, location, message)]
    message = (
        f"{what} behaves differently on the environment's base {served.name}@{served.revision}: "
        f"{format_difference(difference)}"
    )
    return [_error(rule, location, message, "retrain the adapter against the served base")]


def format_difference(difference: Difference) -> str:
    return (
        f"{difference.what} at {difference.index}: trained with {difference.expected!r}, "
        f"served {difference.actual!r} (near {difference.context!r})"
    )
