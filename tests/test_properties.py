"""Property-based tests (hypothesis): the YAML loader with line marks, the registry models,
the safetensors header reader, the route arithmetic of promote and rollback, the name rules.

Each property runs a fixed number of derandomized examples (the same ones on every run, so
CI is reproducible); a failure hypothesis once found stays as an ``@example``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from safetensors import SafetensorError
from safetensors.numpy import load as library_load
from safetensors.numpy import save

from adapterctl.configfile import load_config
from adapterctl.documents import load_document
from adapterctl.errors import InputError, UsageError
from adapterctl.gitops import edit, steps
from adapterctl.gitops.routes import Routed, parse_routes
from adapterctl.inspect.safetensors import Header, SafetensorsError, read_header
from adapterctl.layout import Placement, classify
from adapterctl.model import Environment
from adapterctl.model.common import (
    BaseName,
    Digest,
    Duration,
    FileName,
    Name,
    Revision,
    SemVer,
)
from adapterctl.model.environment import Routes
from adapterctl.model.kinds import Kind
from adapterctl.model.node import NodeConfig
from adapterctl.yamlio import Source, YamlError, decode, load
from tests import strategies as s
from tests.conftest import REPO

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FEW = settings(PROPERTY, max_examples=30)


T = TypeVar("T")


def attempt(action: Callable[[], T], *errors: type[Exception]) -> T | Exception:
    """``action()``, or the exception of one of ``errors`` it raised (any other escapes)."""
    try:
        return action()
    except errors as exc:
        return exc


def lines_of(text: str) -> int:
    return max(1, len(text.splitlines()))


def dump(value: Any) -> str:
    """PyYAML's text for ``value``, non-ASCII escaped: with ``allow_unicode`` it writes a key
    '\x85' (NEL, a YAML line break) so that YAML reads it back as ' '."""
    return yaml.safe_dump(value, sort_keys=False)


# --- the YAML loader ------------------------------------------------------------------------


@PROPERTY
@given(s.yaml_values())
def test_any_dumped_document_loads_back_equal(value: Any) -> None:
    data, _ = load(dump(value))
    assert data == value


@PROPERTY
@given(st.dictionaries(st.text(max_size=8), s.yaml_values(), min_size=1, max_size=4))
def test_every_path_of_a_document_has_a_line_inside_it(value: dict[str, Any]) -> None:
    text = dump(value)
    _, node = load(text)
    source = Source("f.yaml", node)
    for path in s.paths_in(value):
        location = source.locate(path)
        assert location.line is not None
        assert 1 <= location.line <= lines_of(text)


def _load_or_refuse(text: str) -> None:
    error = attempt(lambda: load(text), YamlError)
    if isinstance(error, YamlError):
        assert error.message
        assert error.line is not None, error.message
        assert 1 <= error.line <= lines_of(text), (error.line, error.message)


@PROPERTY
@given(s.yaml_texts())
@example("[")  # libyaml puts the end of the stream on line 2 of a 1-line file
@example("a: 1\nb: {\n")
@example("a: \x01")  # a control character: PyYAML's ReaderError escaped as an internal error
@example("a: b\r\nc: \x7f")
def test_any_text_loads_or_is_refused_at_a_line_inside_it(text: str) -> None:
    _load_or_refuse(text)


@FEW
@given(st.data())
def test_a_damaged_document_is_refused_at_a_line_inside_it(data: st.DataObject) -> None:
    text = dump(data.draw(s.yaml_values()))
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    cut = data.draw(st.integers(min_value=0, max_value=3))
    insert = data.draw(st.text(alphabet=s.YAML_PUNCTUATION, max_size=3))
    _load_or_refuse(text[:at] + insert + text[at + cut :])


@PROPERTY
@given(st.binary(max_size=200))
@example(b"\x00")
def test_any_bytes_decode_and_load_or_are_refused(raw: bytes) -> None:
    text = attempt(lambda: decode(raw), YamlError)
    if isinstance(text, Exception):
        assert isinstance(text, YamlError)
        assert text.rule == "yaml/encoding"
        assert text.message.startswith("not UTF-8: byte 0x")
    else:
        _load_or_refuse(text)


# --- registry documents and configuration files ---------------------------------------------


def _seeds() -> list[tuple[str, Placement, dict[str, Any]]]:
    """Every registry YAML file of this repository, with its placement and data."""
    seeds = []
    for folder in ("adapters", "bases", "environments", "hardware"):
        for file in sorted((REPO / folder).rglob("*.yaml")):
            path = file.relative_to(REPO).as_posix()
            placement = classify(path)
            if placement is not None:
                data, _ = load(file.read_text(encoding="utf-8"))
                assert isinstance(data, dict)
                seeds.append((path, placement, data))
    return seeds


SEEDS = _seeds()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def test_the_seeds_cover_every_kind_but_golden_suites_and_profiles() -> None:
    kinds = {placement.kind for _, placement, _ in SEEDS}
    assert kinds >= {Kind.ADAPTER_LINE, Kind.ADAPTER_REVISION, Kind.BASE, Kind.ENVIRONMENT}


@PROPERTY
@given(st.data())
def test_a_mutated_registry_file_gives_findings_at_lines_inside_it(
    scratch: Path, data: st.DataObject
) -> None:
    path, placement, document = data.draw(st.sampled_from(SEEDS))
    text = dump(data.draw(s.mutated(document)))
    file = scratch / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")
    loaded = load_document(scratch, path, placement)
    errors = [f for f in loaded.findings if f.severity.name == "ERROR"]
    assert (loaded.model is None) == bool(errors)
    for finding in loaded.findings:
        assert finding.location.file == path
        assert finding.location.line is not None
        assert 1 <= finding.location.line <= lines_of(text), str(finding.location)


@PROPERTY
@given(s.environments())
def test_a_generated_environment_validates_and_round_trips(document: dict[str, Any]) -> None:
    env = Environment.model_validate(document)
    again = env.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert Environment.model_validate(again) == env
    data, _ = load(dump(document))
    assert Environment.model_validate(data) == env


@PROPERTY
@given(st.data())
def test_any_value_anywhere_in_an_environment_is_a_validation_error_or_valid(
    data: st.DataObject,
) -> None:
    document = data.draw(s.environments())
    changed = data.draw(s.mutated(document))
    result = attempt(lambda: Environment.model_validate(changed), ValidationError)
    assert not isinstance(result, ValidationError) or result.errors()


NODE_CONFIG = {
    "name": "gpu-node-a",
    "environment": "prod",
    "endpoint": "http://127.0.0.1:8000/v1",
    "base": {"path": "/models/tiny-llama-r1", "served_name": "tiny-llama"},
    "cache_dir": "/var/lib/adapterctl/cache",
}


@PROPERTY
@given(st.data())
def test_a_bad_configuration_file_is_an_input_error_naming_file_and_line(
    scratch: Path, data: st.DataObject
) -> None:
    text = data.draw(st.one_of(s.yaml_texts(), s.mutated(NODE_CONFIG).map(dump)))
    file = scratch / "node.yaml"
    file.write_text(text, encoding="utf-8")
    # an existing file: never a UsageError (that escapes attempt and fails the test)
    error = attempt(lambda: load_config(file, NodeConfig, "a node", "--config"), InputError)
    if isinstance(error, InputError):
        match = re.match(rf"{re.escape(str(file))}(?::(\d+|None))?[: ]", error.message)
        assert match, error.message
        line = match.group(1)
        assert line != "None", error.message
        assert line is None or 1 <= int(line) <= lines_of(text), error.message


# --- safetensors headers --------------------------------------------------------------------


def _read(blob: bytes) -> Header:
    def read(start: int, length: int) -> bytes:
        return blob[start : start + length]

    return read_header(read, len(blob), "a.safetensors")


def _read_or_refuse(blob: bytes) -> None:
    header = attempt(lambda: _read(blob), SafetensorsError)
    if isinstance(header, Exception):
        assert isinstance(header, SafetensorsError)
        assert header.message.startswith("a.safetensors: "), header.message
        assert len(header.message) < 400, header.message
        return
    data_size = len(blob) - header.data_start
    assert sum(t.nbytes for t in header.tensors.values()) == data_size


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_are_a_header_or_a_clear_refusal(blob: bytes) -> None:
    _read_or_refuse(blob)


@PROPERTY
@given(s.safetensors_blobs())
def test_any_header_is_read_or_refused_clearly(blob: bytes) -> None:
    _read_or_refuse(blob)


NUMPY_DTYPES = {
    np.bool_: "BOOL", np.uint8: "U8", np.int8: "I8", np.int16: "I16", np.uint16: "U16",
    np.float16: "F16", np.int32: "I32", np.uint32: "U32", np.float32: "F32",
    np.float64: "F64", np.int64: "I64", np.uint64: "U64", np.complex64: "C64",
}  # fmt: skip


@st.composite
def arrays(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], str]:
    dtype = draw(st.sampled_from(sorted(NUMPY_DTYPES, key=lambda d: NUMPY_DTYPES[d])))
    shape = tuple(draw(st.lists(st.integers(min_value=0, max_value=4), max_size=3)))
    return np.zeros(shape, dtype=dtype), NUMPY_DTYPES[dtype]


@FEW
@example(tensors={}, metadata={})  # the library's own file that it cannot read back
@given(
    st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda n: n != "__metadata__"),
                    arrays(), max_size=5),
    st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)  # fmt: skip
def test_headers_the_library_writes_are_read_back_exactly(
    tensors: dict[str, tuple[np.ndarray[Any, Any], str]], metadata: dict[str, str] | None
) -> None:
    blob = save({name: array for name, (array, _) in tensors.items()}, metadata=metadata)
    try:
        library_load(blob)
    except SafetensorError:  # safetensors 0.8 writes {},"__metadata__":{}} for no tensors
        with pytest.raises(SafetensorsError, match="header is not JSON: Extra data"):
            _read(blob)
        return
    header = _read(blob)
    assert header.metadata == (metadata or {})
    assert set(header.tensors) == set(tensors)
    for name, (array, dtype) in tensors.items():
        tensor = header.tensors[name]
        assert (tensor.dtype, tensor.shape, tensor.nbytes) == (dtype, array.shape, array.nbytes)
        start = header.data_start + tensor.start
        assert blob[start : start + tensor.nbytes] == array.tobytes()
    assert header.bytes_read == header.data_start


# --- route arithmetic -----------------------------------------------------------------------

ROUTES = TypeAdapter(Routes)


def _check_valid(routes: steps.Routes, retain: int) -> None:
    """What an environment accepts: weights sum to 100, unique versions, ≤ retain kept."""
    ROUTES.validate_python([r._asdict() for r in routes])
    assert sum(r.weight for r in routes) == 100
    assert len(steps.retained(routes)) <= retain


@PROPERTY
@given(st.data())
def test_a_promotion_step_keeps_the_weights_at_100(data: st.DataObject) -> None:
    retain = data.draw(st.integers(min_value=1, max_value=3))
    before = data.draw(s.route_lists(retain))
    version = data.draw(st.sampled_from([r.version for r in before]) | s.versions())
    weight = data.draw(st.none() | st.integers(min_value=-2, max_value=102))
    tenants = data.draw(st.none() | st.lists(s.names(), max_size=2, unique=True).map(tuple))
    after = attempt(
        lambda: steps.promote(before, version, weight, retain=retain, tenants=tenants),
        InputError,
        UsageError,
    )
    if isinstance(after, Exception):
        assert isinstance(after, InputError | UsageError)
        assert after.message
        return
    _check_valid(after, retain)
    expected = 100 if weight is None and not tenants else weight
    assert expected is None or steps.weight_of(after, version) == expected


@PROPERTY
@given(st.data())
def test_a_rollback_to_any_version_routes_all_traffic_to_it(data: st.DataObject) -> None:
    retain = data.draw(st.integers(min_value=1, max_value=3))
    before = data.draw(s.route_lists(retain))
    version = data.draw(st.sampled_from([r.version for r in before]))
    after = steps.restore(before, version, retain=retain)
    _check_valid(after, retain)
    assert after[0] == steps.Route(version, 100)


ENV_FILE = "environments/prod/environment.yaml"
ALIAS = "support-bot"


def _table(routes: steps.Routes) -> dict[str, Routed]:
    return {r.version: Routed(r.weight, r.tenants) for r in routes}


@PROPERTY
@given(st.data())
def test_promote_then_revert_restores_the_file_byte_for_byte(data: st.DataObject) -> None:
    original = (REPO / ENV_FILE).read_text(encoding="utf-8")
    before = data.draw(s.route_lists(1))
    text = edit.set_routes(original, ALIAS, before, display=ENV_FILE)
    version = data.draw(s.versions().filter(lambda v: v not in _table(before)))
    weight = data.draw(st.none() | st.integers(min_value=1, max_value=99))
    try:
        after = steps.promote(before, version, weight, retain=1)
    except InputError:
        return  # the alias is already split between two revisions
    promoted = edit.set_routes(text, ALIAS, after, display=ENV_FILE)
    assert parse_routes(text.encode())[ALIAS] == _table(before)
    assert parse_routes(promoted.encode())[ALIAS] == _table(after)
    assert edit.set_routes(promoted, ALIAS, before, display=ENV_FILE) == text


# --- name rules -----------------------------------------------------------------------------

LOWER_DIGITS = set(string.ascii_lowercase + string.digits)
ASCII_ALNUM = set(string.ascii_letters + string.digits)


def _name_rule(value: str) -> bool:
    """Lower-case letters, digits and '-', at most 63, a letter or digit at both ends."""
    return (
        0 < len(value) <= 63
        and set(value) <= LOWER_DIGITS | {"-"}
        and value[0] in LOWER_DIGITS
        and value[-1] in LOWER_DIGITS
    )


def _base_name_rule(value: str) -> bool:
    """A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters in all."""
    return 0 < len(value) <= 253 and all(_name_rule(part) for part in value.split("."))


def _numeric(part: str) -> bool:
    return part != "" and set(part) <= set(string.digits) and (part == "0" or part[0] != "0")


def _identifiers(text: str, *, leading_zeros: bool) -> bool:
    allowed = ASCII_ALNUM | {"-"}
    for part in text.split("."):
        if not part or not set(part) <= allowed:
            return False
        if not leading_zeros and set(part) <= set(string.digits) and not _numeric(part):
            return False
    return True


def _semver_rule(value: str) -> bool:
    """https://semver.org: MAJOR.MINOR.PATCH of ASCII digits without leading zeros, then
    ``-pre.release`` and ``+build`` identifiers of ASCII letters, digits and '-'."""
    if len(value) > 128:
        return False
    rest, _, build = value.partition("+")
    if "+" in value and not _identifiers(build, leading_zeros=True):
        return False
    core, dash, pre = rest.partition("-")
    if dash and not _identifiers(pre, leading_zeros=False):
        return False
    parts = core.split(".")
    return len(parts) == 3 and all(_numeric(part) for part in parts)


def _revision_rule(value: str) -> bool:
    """ASCII letters, digits, '.', '_' and '-', starting with a letter or digit, ≤ 128."""
    return (
        0 < len(value) <= 128 and value[0] in ASCII_ALNUM and set(value) <= ASCII_ALNUM | set("._-")
    )


def _file_name_rule(value: str) -> bool:
    """One path component of ASCII letters, digits, '.', '_' and '-'; not only dots."""
    return (
        0 < len(value) <= 255 and set(value) <= ASCII_ALNUM | set("._-") and value.strip(".") != ""
    )


def _duration_rule(value: str) -> bool:
    """Days, hours, minutes, seconds in that order, each ASCII digits and a unit, ≥ one."""
    return bool(re.fullmatch(r"([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?", value, re.ASCII)) and (
        value != "" and len(value) <= 32
    )


def _digest_rule(value: str) -> bool:
    hexa = value.removeprefix("sha256:")
    return value.startswith("sha256:") and len(hexa) == 64 and set(hexa) <= set("0123456789abcdef")


def _accepts(annotation: Any) -> Callable[[str], bool]:
    adapter: TypeAdapter[str] = TypeAdapter(annotation)

    def accepts(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    return accepts


NAME_TEXTS = st.text(alphabet=string.ascii_letters + string.digits + "-._ \n/", max_size=70)
UNICODE_DIGITS = "\u0661\u0662\u0663\u00b9\uff11"  # Arabic-Indic, superscript, full-width


@PROPERTY
@given(st.one_of(NAME_TEXTS, s.names(), st.text(max_size=70)))
@example("a\n")
@example("a" * 64)
def test_names_are_accepted_exactly_by_the_documented_rule(value: str) -> None:
    assert _accepts(Name)(value) == _name_rule(value)


@PROPERTY
@given(st.one_of(NAME_TEXTS, st.lists(s.names(), min_size=1, max_size=6).map(".".join),
                 st.text(max_size=70)))  # fmt: skip
@example("llama-3.1-8b-instruct")
@example("llama..8b")
@example(".".join(["a" * 63] * 4))
@example("a\n")
def test_base_names_are_accepted_exactly_as_dns_1123_subdomains(value: str) -> None:
    assert _accepts(BaseName)(value) == _base_name_rule(value)


@PROPERTY
@given(st.one_of(s.versions(), st.text(alphabet="0123456789.-+abz" + UNICODE_DIGITS, max_size=20)))
@example("1\u0661.2.3")  # an Arabic-Indic digit: Python's \d took it
@example("1.2.3\n")
@example("01.2.3")
def test_semantic_versions_are_accepted_exactly_by_semver_org(value: str) -> None:
    assert _accepts(SemVer)(value) == _semver_rule(value)


@PROPERTY
@given(st.one_of(st.text(alphabet="0123456789dhms" + UNICODE_DIGITS, max_size=10), NAME_TEXTS))
@example("\u0662\u0664h")  # Arabic-Indic digits: Python's \d took them
def test_durations_are_accepted_exactly_by_the_documented_rule(value: str) -> None:
    assert _accepts(Duration)(value) == _duration_rule(value)


@PROPERTY
@given(st.one_of(NAME_TEXTS, s.REVISIONS, st.text(max_size=20)))
def test_revisions_and_file_names_are_accepted_exactly_by_their_rules(value: str) -> None:
    assert _accepts(Revision)(value) == _revision_rule(value)
    assert _accepts(FileName)(value) == _file_name_rule(value)


@PROPERTY
@given(st.one_of(st.text(alphabet="sha256:0123456789abcdefABCDEF", max_size=75),
                 st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())))  # fmt: skip
def test_digests_are_accepted_exactly_by_the_documented_rule(value: str) -> None:
    assert _accepts(Digest)(value) == _digest_rule(value)
