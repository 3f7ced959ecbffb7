"""``register``: read a PEFT LoRA directory, check it against its base, store it, write
its revision manifest. Nothing is written unless every gate passes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapterctl import layout
from adapterctl.errors import InputError
from adapterctl.findings import Finding, JsonPath, Location, Severity
from adapterctl.gates import compat, integrity
from adapterctl.gates.compat import AdapterFacts
from adapterctl.inspect.peft import read_peft_config
from adapterctl.inspect.safetensors import read_header_file
from adapterctl.model import AdapterRevision, BaseManifest, BaseRef
from adapterctl.model.kinds import Kind
from adapterctl.register.training import load_training
from adapterctl.register.writer import ensure_new, now, render, write_new
from adapterctl.registry import Registry
from adapterctl.store.base import Store
from adapterctl.store.digests import ArtifactDigest, DigestCache, digest_directory
from adapterctl.store.publish import publish


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the user asked to register."""

    adapter_dir: Path
    name: str
    version: str
    base: BaseRef
    training_file: Path
    description: str


def register_adapter(
    registry: Registry, store: Store, candidate: Candidate, cache: DigestCache | None = None
) -> tuple[str | None, list[Finding]]:
    """Returns the manifest path written (None when refused) and the findings."""
    path = layout.revision_path(candidate.name, candidate.version)
    ensure_new(registry.root, path)
    if registry.line(candidate.name) is None:
        raise InputError(
            f"no adapter line {candidate.name}: {layout.line_path(candidate.name)} is missing",
            hint="create the line's adapter.yaml (owners, product owner, suites) first",
        )
    base = registry.base(candidate.base.name, candidate.base.revision)
    if base is None:
        target = layout.base_path(candidate.base.name, candidate.base.revision)
        raise InputError(
            f"no base {candidate.base}: {target} is missing or invalid",
            hint="register the base first (adapterctl register-base)",
        )
    locate = _locator(candidate.adapter_dir)
    training, findings = load_training(candidate.training_file, str(candidate.training_file))
    findings += integrity.check_directory(candidate.adapter_dir, locate)
    if training is None or _failed(findings):
        return None, findings
    try:
        facts = AdapterFacts(
            config=read_peft_config(candidate.adapter_dir / "adapter_config.json"),
            header=read_header_file(candidate.adapter_dir / "adapter_model.safetensors"),
        )
    except InputError as exc:
        where = Location(str(candidate.adapter_dir))
        return None, [*findings, Finding("compat/unreadable", Severity.ERROR, where, exc.message)]
    digests = digest_directory(candidate.adapter_dir, cache=cache)
    revision = _revision(candidate, facts, base, training, digests)
    findings += compat.check_adapter(revision, facts, base, locate)
    if _failed(findings):
        return None, findings
    publish(store, digests.digest, candidate.adapter_dir, digests.files)
    write_new(registry.root, path, render(path, Kind.ADAPTER_REVISION, revision))
    return path, findings


def _failed(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def _locator(adapter_dir: Path) -> compat.Locate:
    def locate(json_path: JsonPath) -> Location:
        if json_path[:2] == ("artifact", "files") and len(json_path) > 2:
            return Location(str(adapter_dir / str(json_path[2])))
        return Location(str(adapter_dir / "adapter_config.json"))

    return locate


def _revision(
    candidate: Candidate,
    facts: AdapterFacts,
    base: BaseManifest,
    training: object,
    digests: ArtifactDigest,
) -> AdapterRevision:
    config = facts.config
    targets = config.target_modules
    return AdapterRevision.model_validate(
        {
            "name": candidate.name,
            "version": candidate.version,
            "created": now(),
            "description": candidate.description,
            "base": candidate.base,
            "artifact": {
                "format": "peft-lora",
                "digest": digests.digest,
                "files": {f.name: {"digest": f.digest, "size": f.size} for f in digests.files},
            },
            "lora": {
                "rank": config.rank,
                "alpha": float(config.alpha),
                "target_modules": sorted(targets) if isinstance(targets, tuple) else [targets],
                "use_rslora": config.use_rslora,
                "use_dora": config.use_dora,
                "bias": config.bias,
                "modules_to_save": sorted(config.modules_to_save)
                if config.modules_to_save
                else None,
            },
            "tokenizer_digest": base.tokenizer_digest,
            "chat_template_digest": base.chat_template_digest,
            "quantization": base.quantization,
            "training": training,
        }
    )
