"""Data-driven registry cases: ``tests/data/{valid,invalid}/<case>/``.

A case folder holds:

- ``overlay/``: files copied over a fresh copy of the example registry (same paths);
- ``case.toml`` (optional): what cannot live in git as a plain file —
  ``remove`` (paths), ``directories`` (paths made into folders), ``symlinks``
  (path → target), ``large_files`` (path → size in bytes), ``args`` (extra arguments);
- ``expected.txt`` (invalid cases): the exact output of ``adapterctl validate``.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import copy_registry

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Case:
    folder: Path
    args: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def expected(self) -> str:
        return (self.folder / "expected.txt").read_text("utf-8")

    def build(self, target: Path) -> Path:
        """The example registry with this case applied, at ``target``."""
        root = copy_registry(target)
        overlay = self.folder / "overlay"
        if overlay.is_dir():
            shutil.copytree(overlay, root, dirs_exist_ok=True)
        spec = self._spec()
        for path in spec.get("remove", []):
            _remove(root / path)
        for path in spec.get("directories", []):
            _remove(root / path)
            (root / path).mkdir(parents=True)
        for path, link in spec.get("symlinks", {}).items():
            _remove(root / path)
            (root / path).symlink_to(link)
        for path, size in spec.get("large_files", {}).items():
            with (root / path).open("wb") as handle:
                handle.truncate(size)
        return root

    def _spec(self) -> dict[str, Any]:
        return _spec(self.folder)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def cases(group: str) -> list[Case]:
    folders = sorted(p for p in (DATA / group).iterdir() if p.is_dir())
    return [Case(folder, _args(folder)) for folder in folders]


def _spec(folder: Path) -> dict[str, Any]:
    spec_file = folder / "case.toml"
    if not spec_file.is_file():
        return {}
    with spec_file.open("rb") as handle:
        return tomllib.load(handle)


def _args(folder: Path) -> list[str]:
    return [str(arg) for arg in _spec(folder).get("args", [])]
