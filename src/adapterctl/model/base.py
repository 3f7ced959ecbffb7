"""A base model manifest: ``bases/<name>/<revision>.yaml``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, Strict

from adapterctl.model.common import (
    BaseName,
    Digest,
    Frozen,
    PositiveInt,
    Revision,
    Str,
    Text,
    Timestamp,
)
from adapterctl.model.quantization import Quantization
from adapterctl.model.refs import AdapterRef, BaseRef

Shape = Annotated[
    tuple[PositiveInt, PositiveInt],
    Field(description="[out_features, in_features] of a linear module."),
]


class MergeTrigger(StrEnum):
    """The business reason for serving an adapter as full weights, kept reviewable."""

    SERVING_COST = "serving-cost"
    LATENCY = "latency"
    OPERATIONAL_SIMPLICITY = "operational-simplicity"


class MergeSource(Frozen):
    """What was merged, pinned by digest: the adapter revision (its manifest, artifact and
    signature bundle) and the base revision it was merged into (its weights and config)."""

    adapter: AdapterRef
    manifest_digest: Digest
    """sha256 of ``adapters/<name>/<version>.yaml`` as committed."""
    artifact_digest: Digest
    """The adapter's ``artifact.digest``."""
    signature_digest: Digest
    """sha256 of its signature bundle, ``adapters/<name>/<version>.sigstore.json``."""
    base: BaseRef
    base_weights: Digest
    """The source base's ``weights_artifact``."""
    base_config_digest: Digest


class Merge(Frozen):
    """Provenance of a base produced by merging an adapter into full weights."""

    source: MergeSource
    method: Literal["peft-merge-and-unload"]
    """PEFT's ``merge_and_unload``: W + scale·B·A folded into each target module."""
    dtype: Literal["float32", "float16", "bfloat16"]
    """The merged weights' dtype (the source base's unless asked otherwise)."""
    peft_version: Str
    tolerance: Annotated[float, Strict(), Field(gt=0)]
    """The largest absolute logit difference from base + adapter the merge was held to
    (the dtype's default unless the merge said otherwise); the gate holds it to it again."""
    trigger: MergeTrigger
    """Why the adapter is served merged: serving-cost, latency or operational-simplicity."""
    reason: Text
    """The decision in words (figures, the ticket), for the reviewers of the pull request."""
    merged_by: Text
    """Who ran the merge (git's user.name <user.email>, else the login)."""


class BaseManifest(Frozen):
    """Identity, fingerprints and shape table of one base model revision."""

    name: BaseName
    revision: Revision
    """Upstream commit, digest or label; the manifest's file name."""
    created: Timestamp | None = None
    source: Str | None = None
    """Where the weights come from, e.g. an internal hub id."""
    aliases: tuple[Str, ...] = ()
    """Other names training pipelines use for this base (hub ids, local paths); an
    adapter's base_model_name_or_path must be the name, the source or one of these."""
    architecture: Text
    """The ``architectures[0]`` of config.json, e.g. LlamaForCausalLM."""
    config_digest: Digest
    tokenizer_digest: Digest
    chat_template_digest: Digest
    tokenizer_artifact: Digest | None = None
    """Store digest of the tokenizer and chat-template files, so the compat gate can
    explain a fingerprint difference by behaviour (render and encode probes)."""
    weights_artifact: Digest | None = None
    """Store digest of the whole model directory, for bases the store also serves
    (the example kit); production nodes hold their base weights locally."""
    quantization: Quantization
    vocab_size: PositiveInt
    max_model_len: PositiveInt | None = None
    shapes: dict[Str, Shape] = Field(min_length=1)
    """Every linear module name → [out_features, in_features], from safetensors headers."""
    merge: Merge | None = None
