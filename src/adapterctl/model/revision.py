"""An adapter revision manifest: ``adapters/<name>/<version>.yaml`` (immutable once merged)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from adapterctl.model.common import (
    Bool,
    Digest,
    FileName,
    Fraction,
    Frozen,
    Int,
    Name,
    Number,
    PositiveInt,
    Scalar,
    SemVer,
    Str,
    Text,
    Timestamp,
)
from adapterctl.model.quantization import Quantization
from adapterctl.model.refs import BaseRef


class ArtifactFile(Frozen):
    """One file of the artifact, as stored under ``<store>/sha256/<digest>/``."""

    digest: Digest
    """SHA-256 of the file's bytes."""
    size: Int = Field(ge=0)
    """Size in bytes."""


class Artifact(Frozen):
    """The adapter's weights: a content-addressed directory in the artifact store."""

    format: Literal["peft-lora"]
    """Artifact format; only PEFT LoRA directories are supported."""
    digest: Digest
    """The model-signing subject digest over the files below."""
    files: dict[FileName, ArtifactFile] = Field(min_length=1)
    """File name → digest and size."""
    uri: Str | None = None
    """Optional hint of where the artifact was uploaded."""


class LoraConfig(Frozen):
    """The LoRA fields vLLM reads from adapter_config.json."""

    rank: PositiveInt
    """LoRA rank ``r``."""
    alpha: Number = Field(gt=0)
    """``lora_alpha``."""
    target_modules: tuple[Str, ...] = Field(min_length=1)
    """Module names the adapter applies to."""
    use_rslora: Bool = False
    use_dora: Bool = False
    bias: Literal["none", "all", "lora_only"] = "none"
    modules_to_save: tuple[Str, ...] | None = None


class Recipe(Frozen):
    """How the adapter was trained."""

    code: Text
    """The training code's revision, e.g. git+https://host/recipes@4be1c2d."""
    seed: Int
    """The random seed."""
    hyperparameters: dict[Str, Scalar] = Field(default_factory=dict)
    """Learning rate, epochs, batch size and the like."""


class Dataset(Frozen):
    """One training dataset, described at a high level (never raw data)."""

    id: Text
    digest: Digest
    time_window: tuple[date, date] | None = None
    """First and last day of the data."""
    filters: tuple[Str, ...] = ()
    """Filtering rules applied before training, e.g. pii-scrubbed."""

    @field_validator("time_window")
    @classmethod
    def _ordered(cls, window: tuple[date, date] | None) -> tuple[date, date] | None:
        if window is not None and window[0] > window[1]:
            raise ValueError(f"time window starts after it ends ({window[0]} > {window[1]})")
        return window


class Evaluation(Frozen):
    """The trainer's own evaluation summary."""

    suite: Str | None = None
    pass_rate: Fraction | None = None
    metrics: dict[Str, Number] = Field(default_factory=dict)
    report: Str | None = None


class Training(Frozen):
    """Training provenance, exported by the training pipeline."""

    recipe: Recipe
    datasets: tuple[Dataset, ...] = Field(min_length=1)
    data_scope: Text
    """What the data covers, in prose."""
    trained_by: Text
    """The identity that ran training (a person or service account)."""
    evaluation: Evaluation | None = None


class AdapterRevision(Frozen):
    """One immutable revision of an adapter line."""

    name: Name
    """The adapter line (the folder under adapters/)."""
    version: SemVer
    """This revision's version (the file name)."""
    created: Timestamp
    """When the revision was registered (with a time zone)."""
    description: Text
    base: BaseRef
    """The base model manifest the adapter was trained on."""
    artifact: Artifact
    lora: LoraConfig
    tokenizer_digest: Digest
    """Tokenizer fingerprint of the base it was trained against."""
    chat_template_digest: Digest
    """Chat template fingerprint of the base it was trained against."""
    quantization: Quantization
    training: Training
