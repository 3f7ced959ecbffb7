"""Where policy files are read from: the target branch (a git ref) or the working tree.

The rules that judge a pull request (CODEOWNERS, teams.yaml, each environment's
``promotion``) must come from the branch it merges into: read from the pull request itself,
they could be edited to approve it. :class:`GitRef` reads them from a commit with
GitPython; :class:`WorkTree` reads files on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import git
from pydantic import BaseModel

from adapterctl import codeowners
from adapterctl.errors import InputError
from adapterctl.gates.schema import validate
from adapterctl.gitrepo import RegistryRepo
from adapterctl.yamlio import MAX_FILE_BYTES, Source, YamlError, decode, load, read_bytes

M = TypeVar("M", bound=BaseModel)


class PolicySource(Protocol):
    @property
    def label(self) -> str:
        """Where files come from, for people: 'origin/main' or 'the working tree'."""
        ...

    def display(self, path: str) -> str:
        """How a file from here is named in messages."""
        ...

    def read(self, path: str) -> str | None:
        """The text of the registry file ``path``, or None when there is no such file."""
        ...


@dataclass(frozen=True)
class WorkTree:
    root: Path
    label: str = "the working tree"

    def display(self, path: str) -> str:
        return path

    def read(self, path: str) -> str | None:
        file = self.root / path
        if not file.is_file():
            return None
        try:
            return decode(read_bytes(file))
        except YamlError as exc:
            raise InputError(f"{path}: {exc.message}", hint=exc.hint) from None


@dataclass(frozen=True)
class GitRef:
    repo: RegistryRepo
    ref: str

    @property
    def label(self) -> str:
        return self.ref

    def display(self, path: str) -> str:
        return f"{self.ref}:{path}"

    def read(self, path: str) -> str | None:
        try:
            blob = self.repo.repo.commit(self.ref).tree / (self.repo.prefix + path)
        except KeyError:
            return None
        if not isinstance(blob, git.Blob):
            return None
        if blob.size > MAX_FILE_BYTES:
            raise InputError(f"{self.display(path)}: larger than {MAX_FILE_BYTES:,} bytes")
        try:
            return decode(blob.data_stream.read())
        except YamlError as exc:
            raise InputError(f"{self.display(path)}: {exc.message}") from None


def open_ref(root: Path, ref: str) -> GitRef:
    """The registry's repository at ``ref`` (``--base-ref``); usage errors when it is not."""
    repo = RegistryRepo.open(root, "--base-ref")
    repo.check_ref(ref, "--base-ref")
    return GitRef(repo, ref)


def read_model(source: PolicySource, path: str, model: type[M]) -> M | None:
    """The document at ``path`` validated against ``model``; None when there is none.

    A file that exists but is not valid is an input error: the policy cannot be judged
    without it.
    """
    text = source.read(path)
    return None if text is None else parse_model(text, source.display(path), model)


def read_file(path: Path, display: str, model: type[M]) -> M:
    """A file named on the command line (``--teams``, ``--signers``), validated."""
    try:
        text = decode(read_bytes(path))
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}") from None
    except YamlError as exc:
        raise InputError(f"{display}: {exc.message}", hint=exc.hint) from None
    return parse_model(text, display, model)


def parse_model(text: str, display: str, model: type[M]) -> M:
    try:
        data, node = load(text)
    except YamlError as exc:
        where = display if exc.line is None else f"{display}:{exc.line}"
        raise InputError(f"{where}: {exc.message}", hint=exc.hint) from None
    parsed, findings = validate(model, data, Source(display, node))
    if parsed is None:
        problems = "\n".join(f"  {finding.location}: {finding.message}" for finding in findings)
        raise InputError(f"{display} is not valid:\n{problems}")
    return parsed


def read_codeowners(source: PolicySource) -> tuple[str, codeowners.CodeOwners] | None:
    """The CODEOWNERS file GitHub would use (the first of its three places) and its rules."""
    for path in codeowners.LOCATIONS:
        text = source.read(path)
        if text is not None:
            return path, codeowners.parse_codeowners(text, path)
    return None
