"""Every fuzz target, by name: the libFuzzer dictionaries it mutates with, and the packages
atheris instruments for it (their branches are the coverage that guides it)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz.harness import Check

DICTIONARIES = Path(__file__).parent / "dictionaries"


@dataclass(frozen=True)
class Spec:
    dictionaries: tuple[str, ...]
    """Files of ``dictionaries/`` (without ``.dict``), merged into the one libFuzzer reads."""
    instrument: tuple[str, ...] = ("adapterctl",)


TARGETS: dict[str, Spec] = {
    "yaml_loader": Spec(("yaml",)),
    "manifests": Spec(("yaml", "regex", "names")),
    "golden_suite": Spec(("yaml", "regex", "json")),
    "safetensors_header": Spec(("json",)),
    "peft_config": Spec(("json", "regex")),
    "store_uri": Spec(("uris",)),
    "pyproject": Spec(("toml", "uris"), ("adapterctl", "tomllib")),
    "trust_file": Spec(("yaml",)),
    "allowed_signers": Spec(("signers",)),
    "host_config": Spec(("yaml", "uris")),
    "github_api": Spec(("json",)),
    "signature_bundle": Spec(("json",)),
    "codeowners": Spec(("codeowners",)),
    "policy_files": Spec(("yaml", "names")),
    "cli_targets": Spec(("names",)),
}
"""Target name (its module in tests/fuzz/) → how to fuzz it."""


@dataclass(frozen=True)
class Target:
    """A target module's ``check(data)`` and ``seeds()``."""

    name: str
    check: Check
    seeds: Callable[[], Iterable[bytes]]


def load(name: str) -> Target:
    """Target ``name``, imported (inside atheris's instrumentation when fuzzing)."""
    if name not in TARGETS:
        raise SystemExit(f"no fuzz target {name!r}; the targets are: {', '.join(TARGETS)}")
    module = importlib.import_module(f"tests.fuzz.{name}")
    return Target(name, module.check, module.seeds)


def dictionary(name: str) -> str:
    """The merged libFuzzer dictionary of target ``name``."""
    return "".join(
        (DICTIONARIES / f"{part}.dict").read_text("utf-8") for part in TARGETS[name].dictionaries
    )
