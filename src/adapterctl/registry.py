"""The registry: every document of the repository, loaded into models with locations.

Discovery walks ``adapters/``, ``bases/`` and ``environments/``; loading parses and
validates each file (in parallel across cores for large registries), and the result
indexes valid documents by their registry keys for the cross-reference gates.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from adapterctl import layout
from adapterctl.documents import Entry, Loaded, load_document
from adapterctl.errors import InputError, UsageError
from adapterctl.findings import Finding, JsonPath, Location, Report, Severity
from adapterctl.layout import Placement
from adapterctl.model import AdapterLine, AdapterRevision, BaseManifest, Environment, GoldenSuite
from adapterctl.model.common import Frozen
from adapterctl.model.kinds import Kind
from adapterctl.yamlio import Source, YamlError, read

M = TypeVar("M", bound=Frozen)
PARALLEL_THRESHOLD = 200
CHUNKS_PER_WORKER = 4


class InvalidDocument(InputError):
    """A registry document a command needs is invalid; ``report`` holds its findings, located
    (file, line, field) as ``validate`` reports them."""

    def __init__(self, what: str, report: Report) -> None:
        blocks = [f"{f.location}  {f.message}" for f in report.findings]
        super().__init__(f"{what} has problems:\n  " + "\n  ".join(blocks))
        self.report = report


@dataclass(frozen=True, slots=True)
class Discovery:
    """Registry files found on disk, and problems with the tree itself."""

    files: tuple[tuple[str, Placement], ...]
    refused: tuple[str, ...]
    """Paths that exist but cannot be read as registry files (they have a finding)."""
    findings: tuple[Finding, ...]


def discover(root: Path) -> Discovery:
    """Find every registry file under the registry roots of ``root``."""
    walker = _TreeWalker(root)
    for top in layout.ROOTS:
        if (root / top).is_dir():
            walker.walk(top)
    walker.findings += _missing_identity_files(root)
    return Discovery(tuple(sorted(walker.files)), tuple(walker.refused), tuple(walker.findings))


@dataclass
class _TreeWalker:
    root: Path
    files: list[tuple[str, Placement]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def walk(self, rel: str) -> None:
        with os.scandir(self.root / rel) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                path = f"{rel}/{entry.name}"
                if entry.is_symlink():
                    self.symlink(path)
                elif entry.is_dir() and layout.is_registry_yaml(path):
                    self.refuse(path, "expected a file here, found a directory")
                elif entry.is_dir():
                    self.walk(path)
                elif entry.is_file():
                    self.classify(path)

    def symlink(self, path: str) -> None:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root.resolve()):
            link = (self.root / path).readlink()
            self.refuse(path, f"symbolic link points outside the repository (to {link})")
        elif target.is_dir():
            self.refuse(path, "symbolic link to a directory; registry folders must be real")
        elif target.is_file():
            self.classify(path)
        else:
            self.refuse(path, "symbolic link points at nothing")

    def classify(self, path: str) -> None:
        if not layout.is_registry_yaml(path):
            return
        placement = layout.classify(path)
        if path.endswith(".yml"):
            self.refuse(path, "registry files end in .yaml, not .yml")
        elif placement is None:
            self.refuse(path, f"not a place for a registry file; expected {layout.EXPECTED_PLACES}")
        else:
            self.files.append((path, placement))

    def refuse(self, path: str, message: str) -> None:
        self.refused.append(path)
        self.findings.append(_tree_finding(path, message))


def _missing_identity_files(root: Path) -> list[Finding]:
    findings = []
    for top, required in (("adapters", "adapter.yaml"), ("environments", "environment.yaml")):
        base = root / top
        for folder in sorted(base.iterdir()) if base.is_dir() else ():
            if folder.is_dir() and not folder.is_symlink() and not (folder / required).exists():
                path = f"{top}/{folder.name}/{required}"
                findings.append(
                    _tree_finding(path, f"missing: every folder under {top}/ needs {required}")
                )
    return findings


def _tree_finding(path: str, message: str) -> Finding:
    return Finding("registry/layout", Severity.ERROR, Location(path), message)


def load_all(
    root: Path, files: Sequence[tuple[str, Placement]], workers: int | None = None
) -> list[Loaded]:
    """Load ``files``, in parallel when there are many and more than one core.

    Worker processes return index entries and findings but not the models: unpickling
    thousands of nested pydantic models costs more than parsing them. Models are loaded
    again, one by one, when a gate asks for them.
    """
    workers = workers or len(os.sched_getaffinity(0))
    with _no_gc():
        if workers < 2 or len(files) < PARALLEL_THRESHOLD:
            return [load_document(root, path, placement) for path, placement in files]
        size = max(1, len(files) // (workers * CHUNKS_PER_WORKER) + 1)
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_load_chunk, [root] * len(chunks), chunks)
            return [loaded for chunk in results for loaded in chunk]


@contextmanager
def _no_gc() -> Iterator[None]:
    """Loading allocates many long-lived objects; cyclic GC passes would only slow it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_chunk(root: Path, files: Sequence[tuple[str, Placement]]) -> list[Loaded]:
    gc.disable()
    return [replace(load_document(root, path, placement), model=None) for path, placement in files]


@dataclass
class Registry:
    """Every registry file, the index of valid ones, and the findings of loading them."""

    root: Path
    entries: dict[str, Entry]
    findings: list[Finding]
    checked: frozenset[str]
    _models: dict[str, Frozen] = field(default_factory=dict, repr=False)
    _sources: dict[str, Source] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, root: Path, workers: int | None = None) -> Registry:
        found = discover(root)
        loaded = load_all(root, found.files, workers)
        entries = {item.path: item.entry for item in loaded if item.entry is not None}
        models = {item.path: item.model for item in loaded if item.model is not None}
        findings = list(found.findings) + [f for item in loaded for f in item.findings]
        checked = frozenset([path for path, _ in found.files] + list(found.refused))
        return cls(root, entries, findings, checked, models)

    def exists(self, path: str) -> bool:
        """Whether a registry file exists at ``path`` (valid or not)."""
        return path in self.checked

    def report_of(self, path: str, command: str) -> Report:
        """What loading ``path`` found, as ``command``'s report (``validate``'s findings)."""
        return Report.build(command, [path], [f for f in self.findings if f.location.file == path])

    def of_kind(self, kind: Kind) -> list[Entry]:
        return [entry for entry in self.entries.values() if entry.placement.kind is kind]

    def model(self, path: str, expected: type[M]) -> M | None:
        """The model of the valid document at ``path``, loading it again if needed."""
        entry = self.entries.get(path)
        if entry is None:
            return None
        cached = self._models.get(path)
        if cached is None:
            cached = load_document(self.root, path, entry.placement).model
            if cached is None:
                return None
            self._models[path] = cached
        return cached if isinstance(cached, expected) else None

    def revision(self, name: str, version: str) -> AdapterRevision | None:
        return self.model(layout.revision_path(name, version), AdapterRevision)

    def line(self, name: str) -> AdapterLine | None:
        return self.model(layout.line_path(name), AdapterLine)

    def base(self, name: str, revision: str) -> BaseManifest | None:
        return self.model(layout.base_path(name, revision), BaseManifest)

    def environment(self, name: str) -> Environment | None:
        return self.model(layout.environment_path(name), Environment)

    def require_environment(self, name: str) -> Environment:
        """The environment a command names; a usage error when its file is missing or invalid."""
        environment = self.environment(name)
        if environment is None:
            path = layout.environment_path(name)
            raise UsageError(f"no environment {name}: {path} is missing or invalid")
        return environment

    def suite(self, line: str, suite: str) -> GoldenSuite | None:
        return self.model(layout.suite_path(line, suite), GoldenSuite)

    def locate(self, path: str, json_path: JsonPath = ()) -> Location:
        """file:line of ``json_path`` in ``path``, parsing the file again only when asked."""
        source = self._sources.get(path)
        if source is None:
            try:
                _, source = read(self.root / path, path)
            except YamlError:
                return Location(path, None, None, json_path)
            self._sources[path] = source
        return source.locate(json_path)
