"""Safe, bounded YAML reading that keeps source marks.

Files are composed with PyYAML's C parser (``CSafeLoader``) into a node tree, then turned
into plain Python data by a small walker that refuses what a registry file must never
contain: duplicate keys, non-string keys, custom tags, merge keys, deep nesting and alias
expansion beyond a small budget (a "billion laughs" file fails at once instead of eating
memory). The node tree is kept so that any JSON path can be mapped back to file:line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from adapterctl.errors import InputError
from adapterctl.findings import Finding, JsonPath, Location, Severity

MAX_FILE_BYTES = 1024 * 1024
MAX_ALIAS_USES = 100
MAX_DEPTH = 64
STR_TAG = "tag:yaml.org,2002:str"
BOOL_TAG = "tag:yaml.org,2002:bool"
YAML11_BOOLEANS = ("yes", "no", "on", "off")
COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_CONSTRUCTOR = yaml.SafeLoader("")


class YamlError(InputError):
    """A file that cannot be read as registry YAML; knows where the problem is."""

    def __init__(
        self,
        rule: str,
        message: str,
        line: int | None = None,
        *,
        hint: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.rule = rule
        self.line = line
        self.column = column

    def finding(self, file: str) -> Finding:
        """This error as an error finding in ``file`` (as shown), at its line and column."""
        location = Location(file, self.line, self.column)
        return Finding(self.rule, Severity.ERROR, location, self.message, self.hint)


@dataclass(frozen=True, slots=True)
class Source:
    """A parsed file's node tree, to map JSON paths back to lines."""

    file: str
    root: yaml.Node | None

    def locate(self, path: JsonPath, *, key: bool = False) -> Location:
        """The location of ``path`` (of its key when ``key``), or of its nearest ancestor."""
        node, found = self.root, self.root
        for depth, part in enumerate(path):
            node = _child(node, part, key=key and depth == len(path) - 1)
            if node is None:
                break
            found = node
        if found is None:
            return Location(self.file, 1, 1, path)
        mark = found.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1, path)

    def scalar_text(self, path: JsonPath) -> str | None:
        """The text of the scalar at ``path`` as written in the file (``1.10``, ``yes``)."""
        node = self.root
        for part in path:
            node = _child(node, part, key=False)
        return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _child(node: yaml.Node | None, part: str | int, *, key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == part:
                return key_node if key else value_node  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a regular file, refusing one over ``limit`` bytes before reading it."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise _too_large(size, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(len(data), limit)
    return data


def _too_large(size: int, limit: int) -> YamlError:
    return YamlError(
        "yaml/too-large",
        f"file is {size:,} bytes; registry files are limited to {limit:,} bytes",
        hint="registry files hold metadata only; weights belong in the artifact store",
    )


def decode(data: bytes) -> str:
    """UTF-8 text of a file, with the place of the first undecodable byte on failure."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(
            "yaml/encoding",
            f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line}, column {column}",
            line,
            column=column,
            hint="save the file as UTF-8",
        ) from None


def compose(text: str) -> yaml.Node:
    """The single document's node tree; a parse error carries its line and column."""
    try:
        loader = yaml.CSafeLoader(text)
    except UnicodeEncodeError as exc:  # a lone surrogate: no file decodes to one
        raise _not_allowed(ord(text[exc.start]), text[: exc.start]) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _parse_error(exc, text) from None
    except yaml.reader.ReaderError as exc:  # libyaml's place is a byte offset into UTF-8
        before = text.encode()[: exc.position].decode(errors="replace")
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise _not_allowed(code, before) from None
    finally:
        loader.dispose()
    if node is None:
        raise YamlError("yaml/empty", "file is empty; expected a mapping", 1, column=1)
    return node


def _not_allowed(code: int, before: str) -> YamlError:
    """A character YAML does not allow (control characters), ``before`` the text before it."""
    lines = (before + "x").splitlines()  # YAML's line breaks are Python's here
    line, column = len(lines), len(lines[-1])
    return YamlError(
        "yaml/character",
        f"character U+{code:04X} at line {line}, column {column} is not allowed in YAML",
        line,
        column=column,
        hint=f'remove it, or write it as "\\u{code:04x}" inside a double-quoted string',
    )


def _parse_error(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line, column = _place(mark, text)
    if exc.context == "expected a single document in the stream":
        message = f"expected a single YAML document, found another at line {line}"
        return YamlError("yaml/syntax", message, line, column=column)
    message = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {_place(exc.context_mark, text)[0]})"
    hint = "indent with spaces: YAML does not allow tabs" if _char_at(text, mark) == "\t" else None
    return YamlError("yaml/syntax", message, line, column=column, hint=hint)


def _place(mark: yaml.Mark | None, text: str) -> tuple[int | None, int | None]:
    """1-based line and column of ``mark``; the end of the stream (libyaml puts it on the line
    after a missing or final newline) is the end of the file's last line."""
    if mark is None:
        return None, None
    lines = text.splitlines() or [""]
    if mark.line < len(lines):
        return mark.line + 1, mark.column + 1
    return len(lines), len(lines[-1]) + 1


def _char_at(text: str, mark: yaml.Mark | None) -> str:
    if mark is None:
        return ""
    lines = text.splitlines()
    if mark.line >= len(lines) or mark.column >= len(lines[mark.line]):
        return ""
    return lines[mark.line][mark.column]


class _Walker:
    """Turns a node tree into dicts, lists and scalars, within the limits above."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.alias_uses = 0

    def value(self, node: yaml.Node, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise _at(node, "yaml/too-deep", f"nesting is deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.ScalarNode):
            return node.value if node.tag == STR_TAG else _scalar(node)
        if node.tag not in COLLECTION_TAGS:
            raise _unsupported_tag(node)
        ident = id(node)
        if ident in self.active:
            raise _at(node, "yaml/alias", "recursive alias: a node contains itself")
        if ident in self.seen:
            self._count_alias(node)
        self.seen.add(ident)
        self.active.add(ident)
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(item, depth + 1) for item in node.value]
            return self.mapping(node, depth)
        finally:
            self.active.discard(ident)

    def _count_alias(self, node: yaml.Node) -> None:
        self.alias_uses += 1
        if self.alias_uses > MAX_ALIAS_USES:
            raise _at(
                node,
                "yaml/alias",
                f"aliases expand more than {MAX_ALIAS_USES} times (a YAML bomb?)",
                hint="write the repeated values out instead of using anchors and aliases",
            )

    def mapping(self, node: yaml.Node, depth: int) -> dict[str, object]:
        if not isinstance(node, yaml.MappingNode):
            raise _at(node, "yaml/syntax", f"unsupported node {node.tag}")
        out: dict[str, object] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key in out:
                raise _at(
                    key_node,
                    "yaml/duplicate-key",
                    f"duplicate key '{key}' (first defined at line {lines[key]})",
                    hint="remove one of them: YAML parsers disagree on which one wins",
                )
            lines[key] = key_node.start_mark.line + 1
            out[key] = self.value(value_node, depth + 1)
        return out


def _key(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode) and node.tag == STR_TAG:
        return str(node.value)
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:merge":
        raise _at(
            node,
            "yaml/merge-key",
            "merge keys ('<<') are not supported",
            hint="write the keys out: manifests are reviewed as they are written",
        )
    if isinstance(node, yaml.ScalarNode):
        read_as = _short_tag(node.tag).removeprefix("!!")
        message = f"mapping key {node.value} is not a string (YAML reads it as {read_as})"
    else:
        shape = "list" if isinstance(node, yaml.SequenceNode) else "mapping"
        message = f"mapping key is a {shape}, not a string"
    raise _at(node, "yaml/key-type", message, hint="quote the key")


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _scalar(node: yaml.ScalarNode) -> object:
    if node.tag == BOOL_TAG and node.value.lower() in YAML11_BOOLEANS:
        raise _yaml11_boolean(node)
    construct = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    if construct is None or node.tag.endswith((":binary", ":set", ":omap", ":pairs")):
        raise _unsupported_tag(node)
    try:
        return construct(_CONSTRUCTOR, node)
    except (ValueError, yaml.constructor.ConstructorError) as exc:
        raise _at(node, "yaml/syntax", f"cannot read value {node.value!r}: {exc}") from None
    except (AttributeError, IndexError, KeyError, TypeError):  # PyYAML trusts an explicit tag
        message = f"cannot read value {node.value!r} as {_short_tag(node.tag)}"
        raise _at(node, "yaml/syntax", message) from None


def _yaml11_boolean(node: yaml.ScalarNode) -> YamlError:
    """``yes``/``no``/``on``/``off``: a boolean to YAML 1.1 (PyYAML), a string to YAML 1.2
    (Go's yaml.v3, JavaScript's yaml): which one a file means must not depend on the reader."""
    meaning = "true" if node.value.lower() in ("yes", "on") else "false"
    return _at(
        node,
        "yaml/boolean",
        f"{node.value!r} is {meaning} to YAML 1.1 readers and the string {node.value!r} to "
        "YAML 1.2 readers",
        hint=f'write {meaning} for the boolean, or quote it ("{node.value}") for the text',
    )


def _unsupported_tag(node: yaml.Node) -> YamlError:
    return _at(
        node,
        "yaml/tag",
        f"unsupported tag '{_short_tag(node.tag)}'",
        hint="registry files use plain YAML: strings, numbers, booleans, dates",
    )


def _at(node: yaml.Node, rule: str, message: str, *, hint: str | None = None) -> YamlError:
    mark = node.start_mark
    return YamlError(rule, message, mark.line + 1, column=mark.column + 1, hint=hint)


def load(text: str) -> tuple[object, yaml.Node]:
    """Parse one YAML document into Python data, keeping its node tree for locations."""
    node = compose(text)
    return _Walker().value(node, 0), node


def read(path: Path, display: str) -> tuple[object, Source]:
    """Read, decode and parse a registry file; raises :class:`YamlError`."""
    data, node = load(decode(read_bytes(path)))
    return data, Source(display, node)
