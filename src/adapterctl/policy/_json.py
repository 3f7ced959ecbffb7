"""Reading recorded GitHub API JSON with errors that name the file and the JSON path."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from adapterctl.errors import InputError
from adapterctl.findings import JsonPath, format_json_path
from adapterctl.fsutil import TooLarge, read_capped
from adapterctl.model.common import kind

MAX_BYTES = 64 * 1024 * 1024
"""Recorded API responses larger than this are refused (3000 files with patches fit)."""


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON value, the file it came from and where in that file it sits."""

    file: str
    value: object
    path: JsonPath = ()

    def fail(self, message: str, hint: str | None = None) -> NoReturn:
        raise InputError(f"{self.file}: {format_json_path(self.path)}: {message}", hint=hint)

    def expect_object(self, what: str) -> Node:
        if not isinstance(self.value, dict):
            self.fail(f"expected {what} (a JSON object), got {_kind(self.value)}")
        return self

    def field(self, key: str) -> Node:
        """The member ``key`` of this object; missing is an error."""
        assert isinstance(self.value, dict)
        if key not in self.value:
            self.fail(f"missing field '{key}'")
        return Node(self.file, self.value[key], (*self.path, key))

    def optional(self, key: str) -> Node | None:
        """The member ``key`` of this object, or None when it is missing or null."""
        assert isinstance(self.value, dict)
        value = self.value.get(key)
        return None if value is None else Node(self.file, value, (*self.path, key))

    def text(self) -> str:
        if not isinstance(self.value, str):
            self.fail(f"expected a string, got {_kind(self.value)}")
        return self.value

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(f"expected an integer, got {_kind(self.value)}")
        return self.value


def _kind(value: object) -> str:
    return "null" if value is None else kind(value)


def read_documents(path: Path, display: str) -> list[object]:
    """Every JSON document in ``path``: one, or several concatenated (``gh api --paginate``
    without ``--slurp`` prints one document per page)."""
    text = _read_text(path, display)
    decoder = json.JSONDecoder()
    documents: list[object] = []
    position = _skip_space(text, 0)
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{display}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        except RecursionError:
            raise InputError(f"{display}: not valid JSON: nested too deeply") from None
        except ValueError:  # an integer longer than Python converts
            digits = sys.get_int_max_str_digits()
            message = f"{display}: not valid JSON: a number has over {digits} digits"
            raise InputError(message) from None
        documents.append(value)
        position = _skip_space(text, position)
    if not documents:
        raise InputError(f"{display}: empty file; expected JSON from the GitHub REST API")
    return documents


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _read_text(path: Path, display: str) -> str:
    try:
        data = read_capped(path, MAX_BYTES)
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror}") from None
    except TooLarge:
        raise InputError(
            f"{display}: larger than {MAX_BYTES:,} bytes; refusing to read it"
        ) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(f"{display}: not UTF-8 (byte {exc.start})") from None


def single(documents: list[object], display: str, what: str) -> Node:
    """The one document of a response that is not paginated."""
    if len(documents) > 1:
        raise InputError(f"{display}: expected one JSON document ({what}), found {len(documents)}")
    return Node(display, documents[0]).expect_object(what)


def items(documents: list[object], display: str, what: tuple[str, str]) -> list[Node]:
    """The items of a list response: one JSON array; the array of pages that
    ``gh api --paginate --slurp`` writes; or one array per page, concatenated. Items of
    several pages are addressed ``$[page][item]``. ``what``: the items, plural and singular."""
    if len(documents) == 1 and not _is_pages(documents[0]):
        return _page(Node(display, documents[0]), what)
    pages = documents[0] if len(documents) == 1 else documents
    assert isinstance(pages, list)
    return [item for i, page in enumerate(pages) for item in _page(Node(display, page, (i,)), what)]


def _is_pages(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)


def _page(node: Node, what: tuple[str, str]) -> list[Node]:
    plural, singular = what
    if not isinstance(node.value, list):
        node.fail(f"expected a JSON array of {plural}, got {_kind(node.value)}")
    return [
        Node(node.file, value, (*node.path, i)).expect_object(singular)
        for i, value in enumerate(node.value)
    ]
