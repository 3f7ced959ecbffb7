"""Round-trip edit of one alias's routes in an environment file (ruamel.yaml).

Only the alias's own lines change: comments, key order, quoting and flow style of the rest
of the file survive byte for byte, so two promotions of different aliases touch different
lines and git merges them cleanly. A new alias is added after the last one.
"""

from __future__ import annotations

import difflib
import io

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from adapterctl.errors import InputError
from adapterctl.gitops.steps import Route, Routes
from adapterctl.semver import names_a_base

RETAINED_COMMENT = "retained for rollback"
CANARY_COMMENT = "canary"
INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 0), (4, 6, 2))
"""(mapping, sequence, offset) indentations tried when the guess does not round-trip."""
LAYOUT_HINT = (
    "format routes like the example registry's environments: one '<alias>:' line, then "
    "one '- {version: …, weight: …}' line per route"
)


def set_routes(text: str, alias: str, routes: Routes, *, display: str) -> str:
    """``text`` with ``routes.<alias>`` replaced by ``routes``."""
    yaml, data = _load(text, display)
    table = data.get("routes")
    if table is None:
        table = data["routes"] = CommentedMap()
    if not isinstance(table, CommentedMap):
        raise InputError(f"{display}: $.routes is not a mapping, so it cannot be edited")
    table[alias] = _sequence(routes)
    edited = _dump(yaml, data)
    _check_only_alias_changed(text, edited, alias, display)
    return edited


def set_base(text: str, name: str, revision: str, *, display: str) -> str:
    """``text`` with ``base`` set to ``{name, revision}``, its style kept (flow or block)."""
    yaml, data = _load(text, display)
    base = data.get("base")
    if not isinstance(base, CommentedMap):
        raise InputError(f"{display}: $.base is not a mapping, so it cannot be edited")
    base["name"], base["revision"] = name, revision
    edited = _dump(yaml, data)
    changed = [i + 1 for i, (a, b) in enumerate(zip(text.splitlines(), edited.splitlines(),
                                                      strict=False)) if a != b]  # fmt: skip
    lines = edited.splitlines()
    if len(lines) != len(text.splitlines()) or any(
        not lines[i - 1].lstrip().startswith(("base:", "name:", "revision:")) for i in changed
    ):
        hint = "write base as the example registry does: base: {name: …, revision: …}"
        raise InputError(f"{display}: editing base would also reformat other lines", hint=hint)
    return edited


def _load(text: str, display: str) -> tuple[YAML, CommentedMap]:
    """A round-trip loader whose indentation reproduces ``text`` exactly, and the data."""
    try:
        _, sequence_indent, offset = load_yaml_guess_indent(text)
        guessed = ((sequence_indent or 2) - (offset or 0) or 2, sequence_indent or 2, offset or 0)
        for indent in dict.fromkeys([guessed, *INDENTS]):
            yaml = _yaml(*indent)
            data = yaml.load(text)
            if _dump(yaml, data) == text:
                break
    except YAMLError as exc:
        raise InputError(f"{display}: cannot be edited: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, CommentedMap):
        raise InputError(f"{display}: the top level is not a mapping")
    return yaml, data


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: object) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _sequence(routes: Routes) -> CommentedSeq:
    seq = CommentedSeq()
    canary = len([r for r in routes if r.weight > 0 or r.tenants]) > 1
    for index, route in enumerate(routes):
        field = "base" if names_a_base(route.version) else "version"
        entry = CommentedMap([(field, route.version), ("weight", route.weight)])
        if route.tenants:
            tenants = CommentedSeq(route.tenants)
            tenants.fa.set_flow_style()
            entry["tenants"] = tenants
        entry.fa.set_flow_style()
        seq.append(entry)
        comment = _comment(route, canary=canary, first=index == 0)
        if comment:
            seq.yaml_add_eol_comment(f"# {comment}", index)
    return seq


def _comment(route: Route, *, canary: bool, first: bool) -> str | None:
    if route.weight == 0 and not route.tenants:
        return RETAINED_COMMENT
    if canary and not first:
        return CANARY_COMMENT
    return None


def _check_only_alias_changed(before: str, after: str, alias: str, display: str) -> None:
    """Refuse an edit that would reformat lines outside the alias's block."""
    old = before.splitlines()
    new = after.splitlines()
    block = _block(new, alias)
    if block is None:
        raise InputError(
            f"{display}: routes.{alias} is not written as a block ('{alias}:' on its own "
            "line), so it cannot be edited line by line",
            hint=LAYOUT_HINT,
        )
    start, end = block
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if j1 < start or j2 > end or (j1 == j2 and not start <= j1 <= end):
            line = i1 + 1
            raise InputError(
                f"{display}:{line}: editing routes.{alias} would also reformat this line",
                hint=LAYOUT_HINT,
            )


def _block(lines: list[str], alias: str) -> tuple[int, int] | None:
    """Line range [start, end) of the alias's key and its route entries."""
    keys = [i for i, line in enumerate(lines) if line.split(" #")[0].strip() == f"{alias}:"]
    if len(keys) != 1:
        return None
    start = keys[0]
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and _deeper(lines[end], indent):
        end += 1
    return start, end


def _deeper(line: str, indent: int) -> bool:
    stripped = line.lstrip()
    if not stripped:
        return False
    return len(line) - len(stripped) > indent or stripped.startswith("- ")
