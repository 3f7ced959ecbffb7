"""Hypothesis strategies for the property tests: names, versions, routes, environments, YAML
values and documents, mutations of the registry's own files, and safetensors headers."""

from __future__ import annotations

import json
import string
import struct
from typing import Any

from hypothesis import strategies as st

from adapterctl.gitops.steps import Route
from adapterctl.inspect.safetensors import DTYPE_BITS

ALNUM = string.ascii_lowercase + string.digits
REVISIONS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
YAML_PUNCTUATION = ":-[]{},'\"&*!#|>?%@`~\t\n .0123456789abyesnoTrue\\"
"""Characters that mean something to YAML, to build texts its parsers must refuse well."""


# --- identifiers ----------------------------------------------------------------------------


@st.composite
def names(draw: st.DrawFn) -> str:
    """A valid name: lower-case letters, digits and '-', alphanumeric at both ends, ≤ 63."""
    first = draw(st.sampled_from(ALNUM))
    middle = draw(st.text(alphabet=ALNUM + "-", max_size=61))
    last = draw(st.sampled_from(ALNUM)) if middle or draw(st.booleans()) else ""
    return first + middle + last


def _number() -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=10**9).map(str)


@st.composite
def versions(draw: st.DrawFn) -> str:
    """A valid semantic version, sometimes with a pre-release and build metadata."""
    core = ".".join(draw(_number()) for _ in range(3))
    pre = draw(st.sampled_from(["", "-rc.1", "-alpha", "-beta.2.x-y", "-0.3.7", "-x.7.z.92"]))
    build = draw(st.sampled_from(["", "+build.5", "+001", "+exp.sha.5114f85"]))
    return core + pre + build


# --- routes ---------------------------------------------------------------------------------


@st.composite
def route_lists(draw: st.DrawFn, retain: int) -> tuple[Route, ...]:
    """Routes of one alias as a valid environment holds them: one or two active revisions
    whose weights sum to 100, at most ``retain`` retained ones, tenants on the canary."""
    active = draw(st.integers(min_value=1, max_value=2))
    kept = draw(st.integers(min_value=0, max_value=retain))
    labels = draw(st.lists(versions(), min_size=active + kept, max_size=active + kept,
                           unique=True))  # fmt: skip
    tenants = tuple(draw(st.lists(names(), max_size=2, unique=True)))
    if active == 1:
        routes = [Route(labels[0], 100)]
    else:
        share = draw(st.integers(min_value=1, max_value=99))
        routes = [Route(labels[0], 100 - share), Route(labels[1], share, tenants)]
    return (*routes, *(Route(label, 0) for label in labels[active:]))


def route_documents(routes: tuple[Route, ...]) -> list[dict[str, Any]]:
    """Routes as an environment file writes them."""
    return [
        {"version": r.version, "weight": r.weight, **({"tenants": list(r.tenants)} if r.tenants
                                                       else {})}
        for r in routes
    ]  # fmt: skip


@st.composite
def environments(draw: st.DrawFn) -> dict[str, Any]:
    """A valid environment document."""
    retain = draw(st.integers(min_value=1, max_value=3))
    aliases = draw(st.lists(names(), max_size=3, unique=True))
    max_loras = draw(st.integers(min_value=1, max_value=64))
    serving: dict[str, Any] = {
        "engine": "vllm",
        "max_lora_rank": draw(st.sampled_from([1, 8, 16, 32, 64, 128, 256, 320, 512])),
        "max_loras": max_loras,
    }
    if draw(st.booleans()):
        serving["max_cpu_loras"] = draw(st.integers(min_value=max_loras, max_value=256))
    document: dict[str, Any] = {
        "name": draw(names()),
        "base": {"name": draw(names()), "revision": draw(REVISIONS)},
        "serving": serving,
        "routes": {alias: route_documents(draw(route_lists(retain))) for alias in aliases},
        "retain": retain,
    }
    if draw(st.booleans()):
        document["promotion"] = {
            "from": draw(names()),
            "min_soak": draw(st.sampled_from(["24h", "1d12h", "30m", "90s"])),
            "required_approvals": draw(st.integers(min_value=0, max_value=5)),
            "approver_teams": ["@example-org/release-managers"],
            "require_signed_commits": draw(st.booleans()),
        }
    return document


# --- YAML -----------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.dates()
)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)


def yaml_values(scalars: st.SearchStrategy[Any] = SCALARS) -> st.SearchStrategy[Any]:
    """Nested mappings (string keys), lists and scalars, as registry YAML holds them."""
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    )


def yaml_texts() -> st.SearchStrategy[str]:
    """Texts made of what YAML's syntax is made of (most are not valid YAML)."""
    return st.text(alphabet=YAML_PUNCTUATION, max_size=120) | st.text(max_size=60)


def paths_in(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every JSON path in ``value``, containers included, the root first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_in(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_in(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """``document`` with one place changed: a value replaced, a key dropped or added."""
    copy = json.loads(json.dumps(document, default=str))
    path = draw(st.sampled_from(paths_in(copy)))
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if not path:
        return draw(yaml_values()) if action == "replace" else copy
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = draw(yaml_values())
    elif action == "drop":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=12))] = draw(yaml_values())
    else:
        parent.append(draw(yaml_values()))
    return copy


# --- safetensors ----------------------------------------------------------------------------

DTYPES = sorted(DTYPE_BITS)
ODD_NUMBERS = st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.booleans()


@st.composite
def tensor_entries(draw: st.DrawFn) -> Any:
    """A header entry: mostly well formed, sometimes wrong in one field."""
    shape = draw(st.lists(st.integers(min_value=0, max_value=5), max_size=3))
    begin = draw(st.integers(min_value=0, max_value=64))
    end = begin + draw(st.integers(min_value=0, max_value=64))
    entry: dict[str, Any] = {"dtype": draw(st.sampled_from(DTYPES)), "shape": shape,
                             "data_offsets": [begin, end]}  # fmt: skip
    field = draw(st.sampled_from([None, "dtype", "shape", "data_offsets", "drop"]))
    if field == "drop":
        del entry[draw(st.sampled_from(sorted(entry)))]
    elif field is not None:
        entry[field] = draw(yaml_values(JSON_SCALARS) | st.lists(ODD_NUMBERS, max_size=3))
    return entry if draw(st.integers(0, 9)) else draw(yaml_values(JSON_SCALARS))


@st.composite
def safetensors_blobs(draw: st.DrawFn) -> bytes:
    """A safetensors-like file: a length, a JSON header, a data buffer; any part may lie."""
    tensors = draw(st.dictionaries(st.text(max_size=10), tensor_entries(), max_size=4))
    if draw(st.booleans()):
        tensors["__metadata__"] = draw(
            st.dictionaries(st.text(max_size=5), st.text(max_size=5) | JSON_SCALARS, max_size=2)
        )
    header = json.dumps(tensors).encode()
    length = draw(st.sampled_from([len(header), len(header) + 1, max(len(header) - 1, 0)])
                  | st.integers(min_value=0, max_value=2**64 - 1))  # fmt: skip
    data = b"\0" * draw(st.integers(min_value=0, max_value=200))
    return struct.pack("<Q", length) + header + data
