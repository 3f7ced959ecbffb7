"""Data-driven registry cases: ``tests/data/{valid,invalid}/<case>/``.

A case folder holds:

- ``overlay/``: files copied over a fresh copy of the example registry (same paths);
- ``case.toml`` (optional): what cannot live in git as a plain file —

  - ``remove`` (paths), ``directories`` (paths made into folders), ``symlinks``
    (path → target), ``large_files`` (path → size in bytes);
  - ``copy`` (path → a file or folder of this repository, copied there first: a model
    directory from ``examples/store`` to register);
  - ``files`` (path → text written verbatim, UTF-8) and ``binary_files`` (path → hex of
    the bytes: non-UTF-8, byte order marks, corrupt safetensors); a path is relative to
    the registry and may leave it (``../inputs/trust.yaml``) for inputs a command must
    not read from the repository it checks;
  - ``store = true``: the example store is copied in (``examples/store``, named by
    ``pyproject.toml``); ``git = true``: the registry is committed in git (init, add,
    commit) after the case is applied, and ``dirty_files`` (path → text) are written
    after that commit;
  - ``command``: the arguments after ``adapterctl`` (default ``["validate"]``),
    ``args``: extra arguments appended to it; ``exit``: the expected exit code
    (default 1);
- ``expected.txt`` (invalid cases): the exact standard output of the command, and
  ``expected-stderr.txt`` (optional) its exact standard error (else it must be empty).
  In both, the registry's absolute path is written ``$ROOT``, its parent ``$TMP``, and
  (``git = true``) its commit ``$HEAD``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO, copy_registry

DATA = Path(__file__).parent / "data"

# A fixed author and clock, so that commit ids (and messages naming them) are stable.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Corpus",
    "GIT_AUTHOR_EMAIL": "corpus@example.com",
    "GIT_COMMITTER_NAME": "Corpus",
    "GIT_COMMITTER_EMAIL": "corpus@example.com",
    "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
}


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

    @property
    def expected_stderr(self) -> str:
        stderr = self.folder / "expected-stderr.txt"
        return stderr.read_text("utf-8") if stderr.is_file() else ""

    @property
    def command(self) -> list[str]:
        """The arguments after ``adapterctl``."""
        command = [str(arg) for arg in self._spec().get("command", ["validate"])]
        return [*command, *self.args]

    @property
    def exit(self) -> int:
        return int(self._spec().get("exit", 1))

    @property
    def store(self) -> bool:
        return bool(self._spec().get("store", False))

    @property
    def git(self) -> bool:
        return bool(self._spec().get("git", False))

    def build(self, target: Path) -> Path:
        """The example registry with this case applied, at ``target``."""
        spec = self._spec()
        root = copy_registry(target, with_store=self.store)
        overlay = self.folder / "overlay"
        if overlay.is_dir():
            shutil.copytree(overlay, root, dirs_exist_ok=True)
        for path, source in spec.get("copy", {}).items():
            _copy(REPO / source, root / path)
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
        for path, text in spec.get("files", {}).items():
            _write(root / path, str(text).encode("utf-8"))
        for path, hexa in spec.get("binary_files", {}).items():
            _write(root / path, bytes.fromhex("".join(str(hexa).split())))
        if self.git:
            commit_all(root)
        for path, text in spec.get("dirty_files", {}).items():
            _write(root / path, str(text).encode("utf-8"))
        return root

    def _spec(self) -> dict[str, Any]:
        return _spec(self.folder)


def commit_all(root: Path) -> None:
    """``git init``, ``add`` and ``commit`` of everything at ``root``, on ``main``."""
    env = {**os.environ, **GIT_ENV}
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "registry"],
    ):
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)


def _copy(source: Path, target: Path) -> None:
    _remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)


def _write(path: Path, content: bytes) -> None:
    _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


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
