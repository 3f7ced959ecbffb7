"""A base model manifest: ``bases/<name>/<revision>.yaml``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from adapterctl.model.common import (
    Digest,
    Frozen,
    Name,
    PositiveInt,
    Revision,
    Str,
    Text,
    Timestamp,
)
from adapterctl.model.quantization import Quantization
from adapterctl.model.refs import AdapterRef

Shape = Annotated[
    tuple[PositiveInt, PositiveInt],
    Field(description="[out_features, in_features] of a linear module."),
]


class Merge(Frozen):
    """Provenance of a base produced by merging an adapter into full weights."""

    source: AdapterRef
    """The adapter revision that was merged."""
    trigger: Text
    """The business reason for merging."""


class BaseManifest(Frozen):
    """Identity, fingerprints and shape table of one base model revision."""

    name: Name
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
