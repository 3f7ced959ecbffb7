"""What every fuzz target shares: the contract, its seed files and a scratch folder."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

from adapterctl.errors import AdapterctlError

REPO = Path(__file__).resolve().parent.parent.parent
REGRESSIONS = REPO / "tests" / "data" / "fuzz"
"""``<target>/<case>``: every input that ever crashed a target, replayed by the tests."""

Check = Callable[[bytes], None]


def guarded(check: Check) -> Check:
    """``check`` under the contract (:func:`attempt`)."""

    def one_input(data: bytes) -> None:
        attempt(lambda: check(data))

    return one_input


def attempt(call: Callable[[], object]) -> None:
    """Run ``call``: an :class:`AdapterctlError` is the parser refusing the input (its message
    must render; standard error shows what UTF-8 cannot encode escaped); any other exception
    escapes, and is a crash."""
    try:
        call()
    except AdapterctlError as exc:
        exc.diagnostics()


def files(*patterns: str) -> Iterator[bytes]:
    """The bytes of every file of the repository matching one of the glob ``patterns``."""
    for pattern in patterns:
        for path in sorted(REPO.glob(pattern)):
            if path.is_file():
                yield path.read_bytes()


def text(data: bytes) -> str:
    """``data`` as text the way a command line or an environment hands it over (no NUL:
    the operating system cannot pass one; undecodable bytes as surrogate escapes)."""
    return data.replace(b"\0", b"").decode("utf-8", errors="surrogateescape")


def doc_blocks(*documents: str, language: str = "yaml") -> Iterator[bytes]:
    """The fenced ``language`` code blocks of these documents of the repository."""
    for document in documents:
        block: list[str] | None = None
        for line in (REPO / document).read_text("utf-8").splitlines(keepends=True):
            if block is None and line.rstrip() == f"```{language}":
                block = []
            elif block is not None and line.strip() == "```":
                yield "".join(block).encode()
                block = None
            elif block is not None:
                block.append(line)


@cache
def scratch() -> Path:
    """A folder of this process for the files a target writes its input to."""
    folder = Path(tempfile.mkdtemp(prefix="adapterctl-fuzz-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def write(name: str, data: bytes) -> Path:
    """``data`` as the file ``name`` in the scratch folder (its folders made)."""
    path = scratch() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
