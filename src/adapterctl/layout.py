"""Where each kind of document lives in the repository (DESIGN.md §1).

``classify`` maps a repository-relative path to a kind and the identity the path implies,
so the schema gate can check that names and versions in file names match the contents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from adapterctl.errors import UsageError
from adapterctl.findings import JsonPath
from adapterctl.model import (
    AdapterLine,
    AdapterRevision,
    BaseManifest,
    Environment,
    PressureProfile,
)
from adapterctl.model.common import Frozen
from adapterctl.model.kinds import Kind
from adapterctl.model.pressure import KEYWORDS
from adapterctl.semver import names_a_base

ROOTS = ("adapters", "bases", "environments", "hardware")
SIGNATURE_SUFFIX = ".sigstore.json"
_SEMVER_FILE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?\.yaml$")

EXPECTED_PLACES = (
    "adapters/<name>/adapter.yaml, adapters/<name>/<version>.yaml, "
    "adapters/<name>/golden/<suite>.yaml, bases/<name>/<revision>.yaml, "
    "environments/<env>/environment.yaml, environments/<env>/pressure/<profile>.yaml "
    "or hardware/<class>.yaml"
)


@dataclass(frozen=True, slots=True)
class Placement:
    """A document's kind and the identity its path gives it."""

    kind: Kind
    name: str
    """Adapter line, base or environment name (the folder); a pressure profile's name (the
    file stem), which is the identity its ``name`` field must repeat; a hardware class's
    name (the file stem)."""
    item: str | None = None
    """Revision version, base revision or suite name (the file stem); for a pressure
    profile, the environment it belongs to (the folder)."""


def classify(path: str) -> Placement | None:
    """The placement of a registry YAML file, or None when it is in no known place."""
    parts = PurePosixPath(path).parts
    if len(parts) == 2 and parts[0] == "hardware" and parts[1].endswith(".yaml"):
        return Placement(Kind.HARDWARE_CLASS, parts[1].removesuffix(".yaml"))
    if len(parts) == 3:
        return _classify_top(parts[0], parts[1], parts[2])
    if len(parts) == 4 and parts[3].endswith(".yaml"):
        return _classify_nested(parts[0], parts[1], parts[2], parts[3].removesuffix(".yaml"))
    return None


def _classify_nested(root: str, folder: str, sub: str, stem: str) -> Placement | None:
    if root == "adapters" and sub == "golden":
        return Placement(Kind.GOLDEN_SUITE, folder, stem)
    if root == "environments" and sub == "pressure":
        return Placement(Kind.PRESSURE_PROFILE, stem, folder)
    return None


def _classify_top(root: str, folder: str, file: str) -> Placement | None:
    stem = file.removesuffix(".yaml")
    if root == "adapters" and file == "adapter.yaml":
        return Placement(Kind.ADAPTER_LINE, folder)
    if root == "adapters" and _SEMVER_FILE.match(file):
        return Placement(Kind.ADAPTER_REVISION, folder, stem)
    if root == "bases" and file.endswith(".yaml"):
        return Placement(Kind.BASE, folder, stem)
    if root == "environments" and file == "environment.yaml":
        return Placement(Kind.ENVIRONMENT, folder)
    return None


def is_registry_yaml(path: str) -> bool:
    """Files under the registry roots that the registry reads or must refuse."""
    return path.endswith((".yaml", ".yml")) and path.split("/", 1)[0] in ROOTS


def revision_path(name: str, version: str) -> str:
    return f"adapters/{name}/{version}.yaml"


def line_path(name: str) -> str:
    return f"adapters/{name}/adapter.yaml"


def base_path(name: str, revision: str) -> str:
    return f"bases/{name}/{revision}.yaml"


def bundle_path(name: str, version: str) -> str:
    """Where a revision's signature bundle lives, repository-relative."""
    return f"adapters/{name}/{version}{SIGNATURE_SUFFIX}"


def base_bundle_path(name: str, revision: str) -> str:
    """Where a base's bundle lives (merged bases, and any base whose weights are stored)."""
    return f"bases/{name}/{revision}{SIGNATURE_SUFFIX}"


def check_env_name(env: str) -> None:
    """Refuse an ``--env`` value that cannot name a folder under environments/."""
    if not env or "/" in env or env.startswith("."):
        raise UsageError(f"--env {env!r}: not an environment name")


def hardware_path(name: str) -> str:
    return f"hardware/{name}.yaml"


def environment_path(name: str) -> str:
    return f"environments/{name}/environment.yaml"


def suite_path(line: str, suite: str) -> str:
    return f"adapters/{line}/golden/{suite}.yaml"


def profile_path(env: str, profile: str) -> str:
    return f"environments/{env}/pressure/{profile}.yaml"


def schema_reference(path: str, kind: Kind) -> str:
    """The relative ``$schema`` reference a file at ``path`` should carry."""
    depth = len(PurePosixPath(path).parts) - 1
    return "../" * depth + "schemas/" + kind.schema_file


Reference = tuple[JsonPath, str]
"""Where in a document a reference is made, and the path of the file it names."""


def references_of(model: Frozen) -> tuple[Reference, ...]:
    """Every registry file a document names, with the field that names it."""
    if isinstance(model, AdapterRevision):
        return ((("base",), base_path(model.base.name, model.base.revision)),)
    if isinstance(model, AdapterLine):
        refs: list[Reference] = [
            (("golden_suites", i), suite_path(model.name, suite))
            for i, suite in enumerate(model.golden_suites)
        ]
        hardware = model.gates.latency.hardware_class
        if hardware is not None:
            refs.append((("gates", "latency", "hardware_class"), hardware_path(hardware)))
        return tuple(refs)
    if isinstance(model, Environment):
        return _environment_references(model)
    if isinstance(model, PressureProfile):
        return _profile_references(model)
    if isinstance(model, BaseManifest) and model.merge is not None:
        adapter, base = model.merge.source.adapter, model.merge.source.base
        return (
            (("merge", "source", "adapter"), revision_path(adapter.name, adapter.version)),
            (("merge", "source", "base"), base_path(base.name, base.revision)),
        )
    return ()


def _profile_references(profile: PressureProfile) -> tuple[Reference, ...]:
    refs: list[Reference] = [
        (("mix", i, "target"), line_path(entry.target))
        for i, entry in enumerate(profile.mix)
        if entry.target not in KEYWORDS
    ]
    hardware = profile.budgets.hardware_class
    if hardware is not None:
        refs.append((("budgets", "hardware_class"), hardware_path(hardware)))
    return tuple(refs)


def _environment_references(env: Environment) -> tuple[Reference, ...]:
    refs: list[Reference] = [(("base",), base_path(env.base.name, env.base.revision))]
    if env.promotion.from_ is not None:
        refs.append((("promotion", "from"), environment_path(env.promotion.from_)))
    for alias, routes in env.routes.items():
        refs.append((("routes", alias), line_path(alias)))
        for i, route in enumerate(routes):
            if route.version is not None:
                refs.append((("routes", alias, i, "version"), revision_path(alias, route.version)))
            else:
                name, _, revision = route.key.partition("@")
                refs.append((("routes", alias, i, "base"), base_path(name, revision)))
    return tuple(refs)


def served_name(name: str, version: str) -> str:
    """The immutable name a revision is loaded under on every node (DESIGN §2); ``version``
    is a route's key, and a base routed as a model of its own is served as its
    ``NAME@REVISION``."""
    return version if names_a_base(version) else f"{name}@{version}"


def route_key(alias: str, served: str) -> str:
    """The route key behind a served name of ``alias``: the inverse of :func:`served_name`."""
    return served.removeprefix(f"{alias}@")
