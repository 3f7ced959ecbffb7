"""JSON objects that name a key twice, refused while parsing: parsers disagree on which
value wins, so a reader must not pick one."""

from __future__ import annotations


class DuplicateKeyError(ValueError):
    """Raised from :func:`unique_keys` when an object names ``key`` twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``json.loads``'s ``object_pairs_hook``: the object, or DuplicateKeyError."""
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(key)
        seen[key] = value
    return seen
