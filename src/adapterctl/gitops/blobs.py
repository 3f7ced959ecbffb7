"""Reading and parsing many historical environment files quickly.

Blobs come from GitPython's one persistent ``git cat-file --batch`` process; a long
history's distinct files are parsed in worker processes (YAML parsing is CPU-bound).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

import git

from adapterctl.gitops.routes import RouteTable, UnparseableError, parse_routes

PARALLEL_FROM = 400
"""Fewer distinct files than this are parsed in this process (workers cost a start-up)."""
MAX_WORKERS = 8

Parsed = RouteTable | UnparseableError


def _parse(data: bytes) -> Parsed:
    try:
        return parse_routes(data)
    except UnparseableError as exc:
        return exc


class Blobs:
    """Parsed routes by blob id; ``None`` (no blob) is the absent file: no routes."""

    def __init__(self, repo: git.Repo) -> None:
        self.repo = repo
        self.cache: dict[str, Parsed] = {}

    def load(self, shas: Iterable[str | None]) -> None:
        """Read and parse every blob in ``shas`` not parsed yet."""
        wanted = sorted({sha for sha in shas if sha is not None and sha not in self.cache})
        contents = [self._read(sha) for sha in wanted]
        workers = min(os.cpu_count() or 1, MAX_WORKERS)
        if len(wanted) < PARALLEL_FROM or workers < 2:
            parsed = [_parse(data) for data in contents]
        else:
            chunk = max(1, len(contents) // (workers * 4))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                parsed = list(pool.map(_parse, contents, chunksize=chunk))
        self.cache.update(zip(wanted, parsed, strict=True))

    def routes(self, sha: str | None) -> Parsed:
        if sha is None:
            return {}
        if sha not in self.cache:
            self.load([sha])
        return self.cache[sha]

    def _read(self, sha: str) -> bytes:
        _, _, _, data = self.repo.git.get_object_data(sha)
        return bytes(data)
