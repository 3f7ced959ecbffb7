"""Word-level differences between two answers, for the golden report."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Literal

Op = Literal["equal", "delete", "insert"]
Run = tuple[Op, str]

_TOKEN = re.compile(r"\s+|\S+")


def words(text: str) -> list[str]:
    """``text`` as alternating words and runs of whitespace; joining them gives it back."""
    return _TOKEN.findall(text)


def word_diff(old: str, new: str) -> list[Run]:
    """``old`` → ``new`` as runs of equal, deleted and inserted text.

    Whitespace between two changes belongs to the change, so ``30 days`` → ``14 weeks``
    reads as one deletion and one insertion rather than two of each.
    """
    a, b = words(old), words(new)
    codes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    runs: list[Run] = []
    deleted: list[str] = []
    inserted: list[str] = []
    for k, (tag, i1, i2, j1, j2) in enumerate(codes):
        same = "".join(a[i1:i2])
        if tag == "equal" and not (0 < k < len(codes) - 1 and same.isspace()):
            runs += _changes(deleted, inserted)
            runs.append(("equal", same))
            deleted, inserted = [], []
        else:
            deleted += a[i1:i2]
            inserted += b[j1:j2]
    return runs + _changes(deleted, inserted)


def _changes(deleted: list[str], inserted: list[str]) -> list[Run]:
    runs: list[Run] = []
    if deleted:
        runs.append(("delete", "".join(deleted)))
    if inserted:
        runs.append(("insert", "".join(inserted)))
    return runs
